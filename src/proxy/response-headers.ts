/**
 * The upstream's response fields as the client gets them: hop-by-hop fields, names listed in the
 * upstream's `Connection`, Proxy-Authenticate and the framing fields are dropped (uWS writes
 * Content-Length / Transfer-Encoding / Date itself: copied ones would go on the wire twice,
 * docs/uws.md), then the route's `response_headers` rules apply.
 *
 * A value with control characters makes the response invalid (nginx: "upstream sent invalid
 * header", 502) rather than being passed to uWS, which does not check what it writes.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import {
  type CompiledRules,
  compileRules,
  connectionNames,
  HOP_BY_HOP,
  toClientValue,
} from './header-rules.js';

const FRAMING = ['content-length', 'date'];
const FORBIDDEN = new Set([...HOP_BY_HOP, ...FRAMING]);

export class ResponseHeaders {
  private readonly drop: ReadonlySet<string>;
  private readonly rules: CompiledRules;

  constructor(route: ProxyRouteConfig, where: string) {
    this.rules = compileRules(route.response_headers, `${where}.response_headers`, FORBIDDEN);
    this.drop = new Set([...FORBIDDEN, 'proxy-authenticate', '__proto__', ...this.rules.drop]);
  }

  /** The client's copy of `src` (undici's parsed fields), or null when a value is invalid. */
  filter(src: IncomingHttpHeaders): Record<string, string | string[]> | null {
    let named: string[] | null = null;
    const conn = src.connection as string | string[] | undefined;
    if (conn !== undefined) named = connectionNames(typeof conn === 'string' ? conn : conn.join(','), null);
    const out: Record<string, string | string[]> = {};
    const drop = this.drop;
    for (const name in src) {
      if (drop.has(name) || named?.includes(name)) continue;
      const v = src[name];
      if (typeof v === 'string') {
        const c = toClientValue(v);
        if (c === undefined) return null;
        out[name] = c;
      } else if (v !== undefined) {
        const list: string[] = [];
        for (const x of v) {
          const c = toClientValue(x);
          if (c === undefined) return null;
          list.push(c);
        }
        out[name] = list;
      }
    }
    const { set, add } = this.rules;
    for (let i = 0; i < set.length; i += 2) out[set[i]!] = set[i + 1]!;
    for (let i = 0; i < add.length; i += 2) {
      const name = add[i]!;
      const prev = out[name];
      out[name] =
        prev === undefined ? add[i + 1]! : [...(typeof prev === 'string' ? [prev] : prev), add[i + 1]!];
    }
    return out;
  }
}

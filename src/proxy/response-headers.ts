/**
 * The upstream's response fields as the client gets them: hop-by-hop fields, names listed in the
 * upstream's `Connection`, Proxy-Authenticate and the framing fields are dropped (uWS writes
 * Content-Length / Transfer-Encoding / Date itself: copied ones would go on the wire twice,
 * docs/uws.md), then the route's `response_headers` rules apply.
 *
 * A value with control characters makes the response invalid (nginx: "upstream sent invalid
 * header", 502) rather than being passed to uWS, which does not check what it writes.
 */
import { util } from 'undici';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import {
  type CompiledRules,
  compileRules,
  connectionNames,
  HOP_BY_HOP,
  toClientValue,
} from './header-rules.js';

const { headerNameToString } = util;
const DIGITS = /^\d{1,15}$/;
/** Lower-cased names of the head being filtered; reused (filter is synchronous, never nested). */
const NAMES: string[] = [];

const FRAMING = ['content-length', 'date'];
const FORBIDDEN = new Set([...HOP_BY_HOP, ...FRAMING]);

export class ResponseHeaders {
  private readonly drop: ReadonlySet<string>;
  private readonly rules: CompiledRules;

  constructor(route: ProxyRouteConfig, where: string) {
    this.rules = compileRules(route.response_headers, `${where}.response_headers`, FORBIDDEN);
    this.drop = new Set([...FORBIDDEN, 'proxy-authenticate', '__proto__', ...this.rules.drop]);
  }

  /**
   * Content-Length of the response `filter` last read: the number when it had exactly one valid
   * one, else undefined (read right after `filter`, which is synchronous).
   */
  length: number | undefined = undefined;

  /**
   * The client's copy of undici's raw response head ([name, value, …] as bytes, names in any
   * case), or null when a value is invalid. One pass straight from the buffers: no intermediate
   * object of all fields (undici's parseHeaders) is built per response.
   */
  filter(raw: readonly Buffer[]): Record<string, string | string[]> | null {
    const n = raw.length >> 1;
    const names = NAMES;
    let named: string[] | null = null;
    let lengths = 0;
    let length: string | undefined;
    for (let i = 0; i < n; i++) {
      const name = headerNameToString(raw[2 * i]!);
      names[i] = name;
      if (name === 'connection') named = connectionNames(raw[2 * i + 1]!.toString('latin1'), named);
      else if (name === 'content-length') {
        lengths++;
        length = raw[2 * i + 1]!.toString('latin1');
      }
    }
    this.length = lengths === 1 && DIGITS.test(length!) ? Number(length) : undefined;
    const out: Record<string, string | string[]> = {};
    const drop = this.drop;
    for (let i = 0; i < n; i++) {
      const name = names[i]!;
      if (drop.has(name) || named?.includes(name)) continue;
      const c = toClientValue(raw[2 * i + 1]!.toString('latin1'));
      if (c === undefined) return null;
      const prev = out[name];
      if (prev === undefined) out[name] = c;
      else if (typeof prev === 'string') out[name] = [prev, c];
      else prev.push(c);
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

/**
 * The header list sent upstream, built deliberately rather than copied (docs/undici.md: undici throws
 * on transfer-encoding, keep-alive, upgrade, expect, odd connection values and duplicate host or
 * content-length, so a blind copy turns ordinary requests into errors).
 *
 * From the client's fields we drop: hop-by-hop fields and every name listed in `Connection`;
 * Host, Content-Length and Expect (the proxy writes framing itself); Proxy-Authorization (meant
 * for us, not for the upstream); X-Request-Id (replaced by the request's id, which the pipeline
 * took from the client when it was a sane token); and the route's `remove` / `set` names.
 *
 * Forwarding fields are trusted only from `trusted_proxies` (trust.ts): from a trusted peer
 * X-Forwarded-For is appended to and X-Forwarded-Proto / -Host, Forwarded and X-Real-IP are passed;
 * from anyone else X-Forwarded-For is replaced by the peer address, Proto / Host are ours, and
 * Forwarded / X-Real-IP are dropped.
 *
 * A field we would forward with a control character in its value (uWS lets DEL through) makes
 * the request a 400 (RFC 9110 §5.5: invalid, and the upstream is a downstream parser). It is not
 * dropped: that would change the request's meaning (an `If-Match` dropped makes a PUT
 * unconditional) (test/conformance.test.ts 'DEL in a value → 400 from the proxy').
 *
 * Output: a flat [name, value, …] array for undici (its cheapest form). Per request: one pass over
 * the client's fields, one Map lookup each; the peer address is read only when X-Forwarded-For is
 * sent or `trusted_proxies` is set (test/proxy/request-headers.test.ts).
 */

import { syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import {
  type CompiledRules,
  compileRules,
  connectionNames,
  HOP_BY_HOP,
  toUpstreamValue,
} from './header-rules.js';
import { forwardedMaxForwards } from './max-forwards.js';
import type { Trust } from './trust.js';

const Field = { Drop: 1, XFF: 2, XFP: 3, XFH: 4, TrustedOnly: 5, MaxForwards: 6 } as const;
type Field = (typeof Field)[keyof typeof Field];

/** Names a rule may not touch: the proxy owns them (Host has `host_header`). */
const FORBIDDEN = new Set([...HOP_BY_HOP, 'host', 'content-length', 'expect']);

const HostMode = { Pass: 0, Upstream: 1, Fixed: 2 } as const;

/** The client's value as undici takes it; throws SY_ERR_BAD_HEADER (400) for a control character. */
function upstreamValue(name: string, value: string): string {
  const v = toUpstreamValue(value);
  if (v === undefined) throw syError('SY_ERR_BAD_HEADER', `control character in the value of ${name}`);
  return v;
}

export class RequestHeaders {
  private readonly actions = new Map<string, Field>();
  private readonly rules: CompiledRules;
  private readonly trust: Trust;
  private readonly hostMode: number;
  private readonly fixedHost: string;
  private readonly emitXff: boolean;
  private readonly emitXfp: boolean;
  private readonly emitXfh: boolean;
  private readonly emitId: boolean;
  /** X-Forwarded-For or `trusted_proxies` needs the peer address; otherwise it is never read */
  private readonly needsSource: boolean;

  constructor(route: ProxyRouteConfig, where: string, trust: Trust) {
    this.trust = trust;
    this.rules = compileRules(route.request_headers, `${where}.request_headers`, FORBIDDEN);
    for (const n of [...FORBIDDEN, 'proxy-authorization', 'x-request-id']) this.actions.set(n, Field.Drop);
    this.actions.set('x-forwarded-for', Field.XFF);
    this.actions.set('x-forwarded-proto', Field.XFP);
    this.actions.set('x-forwarded-host', Field.XFH);
    this.actions.set('forwarded', Field.TrustedOnly);
    this.actions.set('x-real-ip', Field.TrustedOnly);
    this.actions.set('max-forwards', Field.MaxForwards);
    for (const n of this.rules.drop) this.actions.set(n, Field.Drop);
    const ruled = this.rules.drop;
    this.emitXff = !ruled.has('x-forwarded-for');
    this.emitXfp = !ruled.has('x-forwarded-proto');
    this.emitXfh = !ruled.has('x-forwarded-host');
    this.emitId = !ruled.has('x-request-id');
    this.needsSource = this.emitXff || trust.any;
    const h = route.host_header;
    this.hostMode = h === 'pass' ? HostMode.Pass : h === 'upstream' ? HostMode.Upstream : HostMode.Fixed;
    this.fixedHost = h;
    if (this.hostMode === HostMode.Fixed && toUpstreamValue(h) !== h)
      throw new TypeError(`${where}.host_header: "${h}" is not a valid Host value`);
  }

  /**
   * The fields for the upstream request. Host is first when the route passes the client's or a
   * fixed one; with `host_header: upstream` it is left out and undici writes the server's host:port.
   */
  build(ex: Exchange): string[] {
    const h = ex.headers;
    // Where the request comes from: a trusted balancer's PROXY source, else the TCP peer. With
    // uWS the peer address is a system call per request: read only when something uses it.
    const source = this.needsSource ? (ex.proxied ?? ex.remoteAddress) : '';
    const trusted = this.trust.trusted(source); // trusts nobody when the source was not read
    let named: string[] | null = null;
    for (let i = 0; i < h.length; i += 2)
      if (h[i] === 'connection') named = connectionNames(h[i + 1]!, named);

    const host = toUpstreamValue(ex.host) ?? '';
    const out: string[] = [];
    if (this.hostMode === HostMode.Pass) out.push('host', host);
    else if (this.hostMode === HostMode.Fixed) out.push('host', this.fixedHost);
    let xff = '';
    let xfp: string | undefined;
    let xfh: string | undefined;
    const actions = this.actions;
    for (let i = 0; i < h.length; i += 2) {
      const name = h[i]!;
      if (named?.includes(name)) continue;
      const act = actions.get(name);
      if (act === Field.MaxForwards) {
        out.push(name, forwardedMaxForwards(ex.method, upstreamValue(name, h[i + 1]!)));
        continue;
      }
      if (act !== undefined) {
        if (trusted && act !== Field.Drop) {
          const v = upstreamValue(name, h[i + 1]!);
          if (act === Field.XFF) xff = xff === '' ? v : `${xff}, ${v}`;
          else if (act === Field.XFP) xfp ??= v;
          else if (act === Field.XFH) xfh ??= v;
          else out.push(name, v);
        }
        continue;
      }
      out.push(name, upstreamValue(name, h[i + 1]!));
    }
    if (this.emitXff) out.push('x-forwarded-for', xff === '' ? source : `${xff}, ${source}`);
    if (this.emitXfp) out.push('x-forwarded-proto', xfp ?? (ex.secure ? 'https' : 'http'));
    if (this.emitXfh) out.push('x-forwarded-host', xfh ?? host);
    if (this.emitId) out.push('x-request-id', ex.id);
    const rules = this.rules;
    if (rules.set.length !== 0) for (const x of rules.set) out.push(x);
    if (rules.add.length !== 0) for (const x of rules.add) out.push(x);
    return out;
  }
}

/**
 * Max-Forwards (RFC 9110 §7.6.2): an intermediary that receives an OPTIONS or TRACE request with
 * `Max-Forwards: 0` must not forward it but answer as the final recipient; with a larger value it
 * forwards the value decremented by one. Other methods may ignore the field (we pass it on).
 *
 * As the final recipient: OPTIONS → 200 with `Allow` (the route's methods) and no body; TRACE →
 * 405 with `Allow`, as nginx answers TRACE: echoing the request back would hand its cookies and
 * credentials to whatever script made the request (cross-site tracing).
 */
import { errorReply, syError } from '../errors.js';
import type { Exchange, Reply } from '../exchange.js';

const DIGITS = /^\d{1,10}$/;

/** The methods a route answers, as `Allow` lists them (GET implies HEAD; OPTIONS always). */
export function allowList(methods: readonly string[] | undefined): string {
  const all = methods ?? ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];
  const out = new Set<string>();
  for (const m of all) {
    if (m === 'TRACE') continue;
    out.add(m);
    if (m === 'GET') out.add('HEAD');
  }
  out.add('OPTIONS');
  return [...out].join(', ');
}

/** The local answer for an OPTIONS or TRACE with `Max-Forwards: 0`; undefined to forward it. */
export function maxForwardsReply(ex: Exchange, allow: string): Reply | undefined {
  const v = ex.header('max-forwards');
  if (v === undefined || !DIGITS.test(v) || Number(v) !== 0) return undefined;
  if (ex.method === 'OPTIONS') return { status: 200, headers: { allow }, body: '' };
  const err = syError('SY_ERR_METHOD_NOT_ALLOWED', 'TRACE with Max-Forwards: 0');
  err.headers = { allow };
  return errorReply(err, false);
}

/** The value to forward: one less for OPTIONS and TRACE (never 0 here: that was answered). */
export function forwardedMaxForwards(method: string, value: string): string {
  if ((method !== 'OPTIONS' && method !== 'TRACE') || !DIGITS.test(value)) return value;
  return String(Math.max(0, Number(value) - 1));
}

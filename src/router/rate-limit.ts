/**
 * The route-level rate limit (`rate: { limit, burst, key }`): a token bucket per key (the client
 * address, a header or a cookie), kept in the route table's shared region so every acceptor
 * thread draws from the same buckets — N threads never admit N× the rate. Beyond it: 429 with
 * `Retry-After` and the IETF draft's `RateLimit` / `RateLimit-Policy` fields
 * (draft-ietf-httpapi-ratelimit-headers-10: `"name";q=…;w=…` and `"name";r=…;t=…`).
 *
 * Composed once per route when the table is compiled (a wrapper around the track's `run`, and
 * around its WebSocket upgrade: one token per upgrade, refused before the handshake), so a route
 * without `rate:` pays nothing. Keys:
 * - `ip`: the real client address — the peer, or X-Forwarded-For when the peer is a trusted proxy
 *   (`trusted_proxies`), never a header a client could set.
 * - `header:NAME` / `cookie:NAME`: that value; a request without it shares the bucket of the
 *   empty key (so leaving the header off is no way around the limit).
 * Keys longer than 64 bytes are kept as a 64-bit hash of the key (two keys may then share a bucket).
 * The bucket table is bounded (`keys`, default 65,536) and forgets the least recently used key of
 * a full probe window (src/region/table.ts): a forgotten key starts again with a full bucket.
 */
import { syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { Trust } from '../proxy/trust.js';
import { cookieValue } from '../proxy/upstream.js';
import { take } from '../region/bucket.js';
import { sharedNow } from '../region/clock.js';
import { RATE_KEY_BYTES } from '../region/plan.js';
import type { SharedTable } from '../region/table.js';
import type { RunFn, WsRunFn } from '../tracks/track.js';
import type { Params } from './router.js';

export interface RateSpec {
  /** per second */
  limit: number;
  burst: number;
  key: string;
}

function keyOf(spec: string, trust: Trust): (ex: Exchange) => string {
  if (spec === 'ip') return (ex) => trust.clientAddress(ex);
  if (spec.startsWith('header:')) {
    const name = spec.slice(7).toLowerCase();
    return (ex) => ex.header(name) ?? '';
  }
  const cookie = spec.slice(7);
  return (ex) => cookieValue(ex, cookie) ?? '';
}

/** 64-bit FNV-1a of a long key, as 16 hex digits behind `#`. */
function digest(key: string): string {
  let h = 0xcbf29ce484222325n;
  for (let i = 0; i < key.length; i++) {
    h ^= BigInt(key.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `#${h.toString(16)}`;
}

/** Wrap `run` (a track's run, or its WebSocket upgrade) in the rate limit `spec`, its buckets in `table`. */
export function rateLimited<F extends RunFn | WsRunFn>(
  run: F,
  spec: RateSpec,
  table: SharedTable,
  trust: Trust,
): F {
  const key = keyOf(spec.key, trust);
  const words = table.valueWords;
  const per = table.wordsPerSlot;
  // The policy as the draft spells it: `burst + 1` requests per the time they take to refill.
  const window = Math.max(1, Math.ceil((spec.burst + 1) / spec.limit));
  const quota = Math.max(1, Math.round(spec.limit * window));
  const policy = `"route";q=${quota};w=${window}`;
  return ((ex: Exchange, params: Params) => {
    let k = key(ex);
    if (k.length > RATE_KEY_BYTES / 3 && Buffer.byteLength(k) > RATE_KEY_BYTES) k = digest(k);
    const slot = table.slot(k);
    const v = take(words, slot * per, spec.limit, spec.burst, sharedNow());
    if (v.ok) return run(ex, params);
    const err = syError('SY_ERR_RATE_LIMITED', `${spec.key} over ${spec.limit}/s`);
    err.headers = {
      'retry-after': String(Math.max(1, Math.ceil(v.retryAfterMs / 1000))),
      'ratelimit-policy': policy,
      ratelimit: `"route";r=0;t=${Math.max(1, Math.ceil(v.retryAfterMs / 1000))}`,
    };
    throw err;
  }) as F;
}

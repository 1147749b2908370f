/**
 * Response compression as a route wrapper: composed once when the route table is built, around
 * the track's `run`, so a handler's reply and a proxied response are treated alike.
 *
 * A reply is compressed when all hold: not HEAD; a status with a body that is not partial (not
 * 1xx, 204, 206, 304); no Content-Encoding yet (an upstream's br/gzip passes untouched: never
 * twice); a compressible type (./schema.ts); a body of unknown length or at least `min_length`;
 * no `Cache-Control: no-transform`; and the client accepts br or gzip (q-values, `negotiator`).
 * Then: Content-Encoding set, Vary gains Accept-Encoding, a strong ETag becomes weak (the bytes
 * differ from the identity response's), Content-Length dropped (the engine frames the new body).
 * Vary is added whenever the type qualifies, compressed or not, so caches keep the variants apart.
 */
import contentTypeOf from 'compressible';
import { type Exchange, Later, type Reply, type ReplyHeaders } from '../exchange.js';
import { acceptedEncodings } from '../http/accept-encoding.js';
import type { RunFn } from '../tracks/track.js';
import { type Encoding, encoders } from './encode.js';
import type { CompressConfig } from './schema.js';

/** Bodies up to this size are compressed in one call; larger or streamed ones through a stream. */
const WHOLE_MAX = 64 * 1024;

/** The key of header `name` in `headers`, whatever its case (handlers may write `Content-Type`). */
function keyOf(headers: ReplyHeaders, name: string): string | undefined {
  if (name in headers) return name;
  for (const k of Object.keys(headers)) if (k.toLowerCase() === name) return k;
  return undefined;
}

function first(v: ReplyHeaders[string]): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return String(v);
  return typeof v === 'string' ? v : v[0];
}

function typeMatcher(types: string[] | undefined): (type: string) => boolean {
  if (types === undefined) return (t) => t !== 'text/event-stream' && contentTypeOf(t) === true;
  const exact = new Set(types.filter((t) => !t.endsWith('/*')));
  const prefixes = types.filter((t) => t.endsWith('/*')).map((t) => t.slice(0, -1));
  return (t) => exact.has(t) || prefixes.some((p) => t.startsWith(p));
}

function addVary(headers: ReplyHeaders): void {
  const k = keyOf(headers, 'vary');
  const v = k === undefined ? undefined : first(headers[k]);
  if (v === undefined || v === '') headers[k ?? 'vary'] = 'Accept-Encoding';
  else if (v.trim() !== '*' && !/(^|,)\s*accept-encoding\s*(,|$)/i.test(v))
    headers[k!] = `${v}, Accept-Encoding`;
}

/** Wrap `run` so its replies are compressed per `cfg`. Called once per route at compile time. */
export function withCompression(run: RunFn, cfg: CompressConfig): RunFn {
  const enc = encoders(cfg);
  const qualifies = typeMatcher(cfg.types);
  const offered = [...cfg.encodings, 'identity'];
  const min = cfg.min_length;

  const compress = (ex: Exchange, reply: Reply): Reply | Promise<Reply> => {
    const s = reply.status;
    const body = reply.body;
    if (s < 200 || s === 204 || s === 206 || s === 304 || body === undefined || body === null) return reply;
    const headers: ReplyHeaders = { ...reply.headers };
    const ceKey = keyOf(headers, 'content-encoding');
    if (ceKey !== undefined && headers[ceKey] !== undefined && first(headers[ceKey]) !== 'identity')
      return reply;
    const ctKey = keyOf(headers, 'content-type');
    const ct = ctKey === undefined ? undefined : first(headers[ctKey]);
    const type = ct === undefined ? undefined : (ct.split(';', 1)[0] ?? '').trim().toLowerCase();
    if (type === undefined || !qualifies(type)) return reply;
    const ccKey = keyOf(headers, 'cache-control');
    if (ccKey !== undefined && /no-transform/i.test(first(headers[ccKey]) ?? '')) return reply;
    addVary(headers);
    const length =
      typeof body === 'string'
        ? Buffer.byteLength(body)
        : body instanceof Uint8Array
          ? body.byteLength
          : reply.length;
    const chosen = acceptedEncodings(ex.header('accept-encoding'), offered)[0];
    if (
      ex.method === 'HEAD' ||
      (length !== undefined && length < min) ||
      chosen === undefined ||
      chosen === 'identity'
    )
      return { ...reply, headers };
    const encoding = chosen as Encoding;
    if (ceKey !== undefined) delete headers[ceKey];
    headers['content-encoding'] = encoding;
    const clKey = keyOf(headers, 'content-length');
    if (clKey !== undefined) delete headers[clKey];
    const etKey = keyOf(headers, 'etag');
    const tag = etKey === undefined ? undefined : first(headers[etKey]);
    if (etKey !== undefined && tag?.startsWith('"')) headers[etKey] = `W/${tag}`;
    if (typeof body === 'string' || body instanceof Uint8Array) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      if (bytes.byteLength <= WHOLE_MAX)
        return enc.whole(encoding, bytes).then((out) => ({ status: s, headers, body: out }));
      return { status: s, headers, body: enc.stream(encoding, [bytes], length) };
    }
    return { status: s, headers, body: enc.stream(encoding, body, length) };
  };

  return (ex, params) => {
    const r = run(ex, params);
    if (r instanceof Later) return r.promise().then((reply) => compress(ex, reply));
    return r instanceof Promise ? r.then((reply) => compress(ex, reply)) : compress(ex, r);
  };
}

export { type CompressConfig, compressSchema } from './schema.js';

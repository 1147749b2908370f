/**
 * Response compression as a route wrapper: composed once when the route table is built, around
 * the track's `run`, so a handler's reply and a proxied response are treated alike.
 *
 * A 200-class reply is compressed when all hold: a status with a whole body (not 1xx, 204, 206,
 * 304); no Content-Encoding yet (an upstream's br/gzip passes untouched: never twice); a
 * compressible type (./schema.ts); a body of unknown length or at least `min_length`; no
 * `Cache-Control: no-transform`; and the client accepts br or gzip (q-values, `negotiator`).
 * Then: Content-Encoding set, Vary gains Accept-Encoding, a strong ETag becomes weak (the bytes
 * differ from the identity response's), Content-Length and Accept-Ranges dropped (the engine
 * frames the new body; a range of it is not offered, as nginx's gzip does). HEAD gets the headers
 * GET would get, with no length. Vary is added whenever the type qualifies, compressed or not, so
 * caches keep the variants apart; a 206 or 304 gets the Vary its 200 would have (RFC 9110
 * §15.4.5), and a 304 the ETag the client holds, weak when it holds the compressed one.
 */
import contentTypeOf from 'compressible';
import { lookup } from 'mime-types';
import { type Exchange, Later, type Reply, type ReplyHeaders } from '../exchange.js';
import { acceptedEncodings } from '../http/accept-encoding.js';
import { releaseBody } from '../http/reply-rules.js';
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

/** What a route's `compress` decides, built once per route (the static track asks it too). */
export interface Compression {
  /** replies of this media type (lower case, no parameters) are compressed: they say Vary */
  qualifies(type: string): boolean;
  /** the encoding for a body of `length` bytes (undefined: unknown) and this Accept-Encoding */
  encodingFor(length: number | undefined, acceptEncoding: string | undefined): Encoding | undefined;
  /** a 200 with this Content-Type and length would be compressed for this Accept-Encoding */
  compresses(contentType: string, length: number | undefined, acceptEncoding: string | undefined): boolean;
}

export function compression(cfg: CompressConfig): Compression {
  const qualifies = typeMatcher(cfg.types);
  const offered = [...cfg.encodings, 'identity'];
  const min = cfg.min_length;
  const encodingFor = (length: number | undefined, acceptEncoding: string | undefined) => {
    if (length !== undefined && length < min) return undefined;
    const chosen = acceptedEncodings(acceptEncoding, offered)[0];
    return chosen === undefined || chosen === 'identity' ? undefined : (chosen as Encoding);
  };
  return {
    qualifies,
    encodingFor,
    compresses: (contentType, length, acceptEncoding) =>
      qualifies(mediaType(contentType)) && encodingFor(length, acceptEncoding) !== undefined,
  };
}

/** The media type of a Content-Type value: lower case, without parameters. */
function mediaType(ct: string): string {
  return (ct.split(';', 1)[0] ?? '').trim().toLowerCase();
}

/** Is `tag` (strong, `"…"`) named weakly in an If-None-Match list? */
function heldWeak(ifNoneMatch: string | undefined, tag: string): boolean {
  if (ifNoneMatch === undefined) return false;
  const weak = `W/${tag}`;
  return ifNoneMatch.split(',').some((t) => t.trim() === weak);
}

const NO_BODY: AsyncIterable<Uint8Array> = {
  // a fresh, finished iterator each time: the engine ends the HEAD answer with no length
  [Symbol.asyncIterator]: () => ({ next: async () => ({ done: true, value: undefined }) }),
};

/** Wrap `run` so its replies are compressed per `cfg`. Called once per route at compile time. */
export function withCompression(run: RunFn, cfg: CompressConfig): RunFn {
  const enc = encoders(cfg);
  const c = compression(cfg);

  /** A 206 or a 304: the Vary its 200 would carry; a 304 also the ETag the client holds. */
  const varied = (ex: Exchange, reply: Reply): Reply => {
    const headers: ReplyHeaders = { ...reply.headers };
    const ctKey = keyOf(headers, 'content-type');
    const ct = ctKey === undefined ? undefined : first(headers[ctKey]);
    // A 304 carries no Content-Type: the path's extension tells a file's type; with none, Vary
    // is sent (a Vary too many costs a cache some hits, one too few serves the wrong bytes).
    const type = ct !== undefined ? mediaType(ct) : reply.status === 304 ? lookup(ex.path) : false;
    if (type === false || c.qualifies(type)) addVary(headers);
    const etKey = keyOf(headers, 'etag');
    const tag = etKey === undefined ? undefined : first(headers[etKey]);
    if (reply.status === 304 && tag?.startsWith('"') && heldWeak(ex.header('if-none-match'), tag))
      headers[etKey!] = `W/${tag}`;
    return { ...reply, headers };
  };

  const compress = (ex: Exchange, reply: Reply): Reply | Promise<Reply> => {
    const s = reply.status;
    const body = reply.body;
    if (s === 206 || s === 304) return varied(ex, reply);
    if (s < 200 || s === 204 || body === undefined || body === null) return reply;
    const headers: ReplyHeaders = { ...reply.headers };
    const ceKey = keyOf(headers, 'content-encoding');
    if (ceKey !== undefined && headers[ceKey] !== undefined && first(headers[ceKey]) !== 'identity')
      return reply;
    const ctKey = keyOf(headers, 'content-type');
    const ct = ctKey === undefined ? undefined : first(headers[ctKey]);
    if (ct === undefined || !c.qualifies(mediaType(ct))) return reply;
    const ccKey = keyOf(headers, 'cache-control');
    if (ccKey !== undefined && /no-transform/i.test(first(headers[ccKey]) ?? '')) return reply;
    addVary(headers);
    const length =
      typeof body === 'string'
        ? Buffer.byteLength(body)
        : body instanceof Uint8Array
          ? body.byteLength
          : reply.length;
    const encoding = c.encodingFor(length, ex.header('accept-encoding'));
    if (encoding === undefined) return { ...reply, headers };
    if (ceKey !== undefined) delete headers[ceKey];
    headers['content-encoding'] = encoding;
    for (const name of ['content-length', 'accept-ranges']) {
      const k = keyOf(headers, name);
      if (k !== undefined) delete headers[k];
    }
    const etKey = keyOf(headers, 'etag');
    const tag = etKey === undefined ? undefined : first(headers[etKey]);
    if (etKey !== undefined && tag?.startsWith('"')) headers[etKey] = `W/${tag}`;
    if (ex.method === 'HEAD') {
      releaseBody(body);
      return { status: s, headers, body: NO_BODY };
    }
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

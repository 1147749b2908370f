/**
 * The rules every engine applies to a Reply before writing it: which statuses may be written and
 * which carry a body, which header names and values are writable, which bodies are, and which
 * fields belong to the engine (framing: Content-Length, Transfer-Encoding, Connection, Keep-Alive,
 * Date — never copied from a reply, or duplicates would go on the wire).
 */
import { Buffer } from 'node:buffer';
import { STATUS_CODES } from 'node:http';
import { type SwitchyardError, syError } from '../errors.js';
import { type Reply, type ReplyHeaders, safeValue } from '../exchange.js';

const STATUS_LINES: string[] = [];
for (let s = 100; s < 600; s++) STATUS_LINES[s] = `${s} ${STATUS_CODES[s] ?? 'Unknown'}`;

/** "200 OK" for 200; undefined for a status we refuse to write (outside 200–599). */
export function statusLine(status: number): string | undefined {
  return status >= 200 && status <= 599 && Number.isInteger(status) ? STATUS_LINES[status] : undefined;
}

/** RFC 9110 §6.4.1: no content for 204 and 304 (and 1xx, which we never write). */
export function statusHasBody(status: number): boolean {
  return status !== 204 && status !== 304;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Fields the engine owns. Compared lower-case. */
export function isFraming(lower: string): boolean {
  switch (lower) {
    case 'content-length':
    case 'transfer-encoding':
    case 'connection':
    case 'keep-alive':
    case 'date':
      return true;
  }
  return false;
}

/**
 * What writing a reply header name needs, found once per distinct name: its lower-case form as
 * bytes (an engine hands bytes to its socket without converting a string each time), or null for
 * a framing field (skipped), or undefined for a name that is not a token (refused). Replies name
 * the same few fields again and again, so the token check, the lower-casing, the framing test and
 * the encoding run once per name rather than once per response; the cache is bounded (a handler
 * inventing names per request only fills it, then pays the checks as before).
 */
const NAMES = new Map<string, Buffer | null | undefined>();
const NAMES_MAX = 1024;

export function headerName(name: string): Buffer | null | undefined {
  let v = NAMES.get(name);
  if (v !== undefined || NAMES.has(name)) return v;
  if (!TOKEN.test(name)) v = undefined;
  else {
    const lower = name.toLowerCase();
    v = isFraming(lower) ? null : Buffer.from(lower, 'latin1');
  }
  if (NAMES.size < NAMES_MAX) NAMES.set(name, v);
  return v;
}

/**
 * Check reply headers before anything is written. Returns the offending header name, or
 * undefined when all are writable. Framing fields are allowed here (they are skipped when writing).
 */
export function invalidHeader(headers: ReplyHeaders | undefined): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object') return '(headers)';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (headerName(name) === undefined) return name;
    if (typeof v === 'string') {
      if (!safeValue(v)) return name;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return name;
    } else if (Array.isArray(v)) {
      for (const x of v) if (typeof x !== 'string' || !safeValue(x)) return name;
    } else {
      // null, a boolean, an object: not a value (test/responses.test.ts 'null-header')
      return name;
    }
  }
  return undefined;
}

/**
 * A reply body the engine cannot write: anything but a string, bytes, nothing, or an iterable
 * (test/responses.test.ts 'a non-Reply (body-number)').
 */
export function invalidBody(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array)
    return false;
  return typeof body !== 'object' || !(Symbol.asyncIterator in body || Symbol.iterator in body);
}

/** Does the reply ask for `Connection: close`? */
export function wantsClose(headers: ReplyHeaders | undefined): boolean {
  if (headers === undefined) return false;
  const v = headers.connection ?? headers.Connection;
  return typeof v === 'string' && v.toLowerCase().includes('close');
}

/**
 * Why `reply` cannot be written as it is, or undefined when it can: a status outside 200–599, a
 * length that is not a byte count (test/fuzz: `/stream?bytes=-1&known=1`), a body of the wrong
 * type, a header name or value that is not writable. Anything that is not an object at all (a
 * handler returned undefined, a string …) is an invalid reply too.
 */
export function replyProblem(reply: Reply): SwitchyardError | undefined {
  if (typeof reply !== 'object' || reply === null) return syError('SY_ERR_BAD_REPLY', 'not a reply object');
  if (statusLine(reply.status) === undefined)
    return syError('SY_ERR_BAD_REPLY', `invalid status ${String(reply.status)}`);
  if (reply.length !== undefined && !(Number.isSafeInteger(reply.length) && reply.length >= 0))
    return syError('SY_ERR_BAD_REPLY', `invalid length ${String(reply.length)}`);
  if (invalidBody(reply.body))
    return syError('SY_ERR_BAD_REPLY', `invalid body of type ${typeof reply.body}`);
  const bad = invalidHeader(reply.headers);
  if (bad !== undefined)
    return syError('SY_ERR_BAD_RESPONSE_HEADER', `invalid value or name in response header "${bad}"`);
  return undefined;
}

const NOOP = (): void => {};

/**
 * A reply body that will not be written (HEAD, 204/304, a refused reply, a client gone): let its
 * source go — an upstream body holds a pooled connection, a generator its `finally` cleanup.
 */
export function releaseBody(body: unknown): void {
  if (body === null || typeof body !== 'object' || !(Symbol.asyncIterator in body)) return;
  const it = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  it.return?.()?.catch(NOOP);
}

/**
 * Reply helpers for handlers: `text`, `json`, `html`, `bytes`, `stream`, `empty`, and `HttpError`
 * for answering a 4xx/5xx with a reason of your own by throwing.
 */
import { type ErrorCode, isErrorStatus, SwitchyardError } from '../../errors.js';
import type { Reply, ReplyHeaders } from '../../exchange.js';

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json';
const HTML = 'text/html; charset=utf-8';

export function text(body: string, status = 200, headers?: ReplyHeaders): Reply {
  return { status, headers: headers ? { 'content-type': TEXT, ...headers } : { 'content-type': TEXT }, body };
}

/** A JSON reply. BigInt values are written as strings (JSON has no integers beyond 2^53). */
export function json(value: unknown, status = 200, headers?: ReplyHeaders): Reply {
  const body = JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v)) as
    | string
    | undefined;
  // undefined, a function or a symbol: no JSON at all (an empty 200 would look like success)
  if (body === undefined) throw new TypeError(`json(): ${typeof value} has no JSON form`);
  return {
    status,
    headers: headers ? { 'content-type': JSON_TYPE, ...headers } : { 'content-type': JSON_TYPE },
    body,
  };
}

export function html(body: string, status = 200, headers?: ReplyHeaders): Reply {
  return { status, headers: headers ? { 'content-type': HTML, ...headers } : { 'content-type': HTML }, body };
}

export function bytes(body: Uint8Array, status = 200, headers?: ReplyHeaders): Reply {
  return { status, headers: { 'content-type': 'application/octet-stream', ...headers }, body };
}

/** Stream an async iterable (chunked, or with Content-Length when `length` is given). */
export function stream(
  body: AsyncIterable<Uint8Array | string>,
  opts: { status?: number; headers?: ReplyHeaders; length?: number } = {},
): Reply {
  return { status: opts.status ?? 200, headers: opts.headers, body, length: opts.length };
}

export function empty(status = 204, headers?: ReplyHeaders): Reply {
  return { status, headers };
}

/**
 * Throw from a handler to answer with this status and reason, e.g.
 * `throw new HttpError(400, 'n must be an integer in 0..90')`. The reason is sent to the client;
 * the status must be 400–599 (anything else is a TypeError: an error page that says success).
 */
export class HttpError extends SwitchyardError {
  constructor(
    status: number,
    reason: string,
    code: ErrorCode = status >= 500 ? 'SY_ERR_HANDLER' : 'SY_ERR_BAD_REQUEST',
  ) {
    // an error page with a 2xx or 3xx status would tell caches and clients it succeeded
    if (!isErrorStatus(status)) throw new TypeError(`HttpError: status ${status} is not 400–599`);
    super(code, reason, { reason, status });
    this.name = 'HttpError';
  }
}

/**
 * What an upstream failure means: its catalogue code (the status the client gets), whether another
 * attempt may follow, and whether it counts against the server's health. nginx's rules
 * (`proxy_next_upstream error timeout`, `max_fails`):
 *
 * | undici / Node error                                  | code                  | retry        | health |
 * |------------------------------------------------------|-----------------------|--------------|--------|
 * | ECONNREFUSED, EHOSTUNREACH, ENOTFOUND …  (connect)    | UPSTREAM_CONNECT 502  | any method   | fails  |
 * | UND_ERR_CONNECT_TIMEOUT                              | UPSTREAM_TIMEOUT 504  | any method   | fails  |
 * | UND_ERR_SOCKET, ECONNRESET, EPIPE before the request was handed to a socket | RESET 502 | any method | fails |
 * | the same after it was (the upstream may have seen it) | UPSTREAM_RESET 502   | idempotent   | fails  |
 * | UND_ERR_HEADERS_TIMEOUT                              | UPSTREAM_TIMEOUT 504  | idempotent   | fails  |
 * | HPE_* parser errors, bad response, length mismatch,  | UPSTREAM_BAD_RESPONSE 502 | no       | fails  |
 * | a head over undici's 16 KiB (nginx: "too big header") |                       |              |        |
 * | UND_ERR_BODY_TIMEOUT (mid-body)                      | UPSTREAM_TIMEOUT      | (too late)   | fails  |
 * | UND_ERR_CLOSED / DESTROYED (shutting down)           | UPSTREAM_UNAVAILABLE 503 | no        | no     |
 * | undici refusing our arguments (the client's method or fields) | BAD_REQUEST 400 | no     | no     |
 * | ours: client gone, body too large, cancelled, timeout | unchanged            | no           | no     |
 *
 * "Any method" is nginx's reading too: a request that never reached a socket cannot have had an
 * effect, so even a POST may go to the next server (`non_idempotent` only widens the second row).
 */
import { type ErrorCode, SwitchyardError, syError } from '../errors.js';
import { isCancellation } from '../runtime/index.js';

export const Retry = {
  /** another attempt would repeat something the upstream may have acted on, or cannot help */
  Never: 0,
  /** may retry idempotent requests (or all, when the route opts in) */
  Idempotent: 1,
  /** nothing reached the upstream: any request may go to the next server */
  Any: 2,
} as const;
export type Retry = (typeof Retry)[keyof typeof Retry];

export interface Failure {
  error: SwitchyardError;
  retry: Retry;
  /** counts against the server's passive health */
  counts: boolean;
}

const CONNECT_CODES = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'ENETDOWN',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const RESET_CODES = new Set(['UND_ERR_SOCKET', 'ECONNRESET', 'EPIPE', 'ECONNABORTED']);

function fail(code: ErrorCode, err: unknown, retry: Retry, counts: boolean, address: string): Failure {
  const msg = err instanceof Error ? err.message : String(err);
  return { error: syError(code, `upstream ${address}: ${msg}`, { cause: err }), retry, counts };
}

/**
 * Classify a failure of one attempt. `sent`: undici had handed the request to a socket
 * (onConnect ran), so the upstream may have received it.
 */
export function classify(err: unknown, sent: boolean, address: string): Failure {
  if (err instanceof SwitchyardError) return { error: err, retry: Retry.Never, counts: false };
  if (isCancellation(err)) {
    const e = err as { reason?: unknown; cause?: unknown };
    const inner = e.reason ?? e.cause;
    if (inner instanceof SwitchyardError) return { error: inner, retry: Retry.Never, counts: false };
    return fail('SY_ERR_CANCELLED', err, Retry.Never, false, address);
  }
  const code = (err as { code?: unknown } | null)?.code;
  // undici's HTTPParserError has `code: undefined` for most parser errors (HPE_* only sometimes).
  if ((err as Error | null)?.name === 'HTTPParserError')
    return fail('SY_ERR_UPSTREAM_BAD_RESPONSE', err, Retry.Never, true, address);
  if (typeof code !== 'string') return fail('SY_ERR_UPSTREAM_RESET', err, Retry.Never, true, address);
  if (CONNECT_CODES.has(code)) return fail('SY_ERR_UPSTREAM_CONNECT', err, Retry.Any, true, address);
  if (code === 'UND_ERR_CONNECT_TIMEOUT' || code === 'ETIMEDOUT')
    return fail('SY_ERR_UPSTREAM_TIMEOUT', err, sent ? Retry.Idempotent : Retry.Any, true, address);
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT')
    return fail('SY_ERR_UPSTREAM_TIMEOUT', err, Retry.Idempotent, true, address);
  if (RESET_CODES.has(code)) {
    const msg = (err as Error).message;
    if (msg === 'bad response' || msg === 'bad upgrade')
      return fail('SY_ERR_UPSTREAM_BAD_RESPONSE', err, Retry.Never, true, address);
    return fail('SY_ERR_UPSTREAM_RESET', err, sent ? Retry.Idempotent : Retry.Any, true, address);
  }
  if (
    code.startsWith('HPE_') ||
    code === 'UND_ERR_HEADERS_OVERFLOW' ||
    code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH' ||
    code === 'UND_ERR_RES_EXCEEDED_MAX_SIZE'
  ) {
    return fail('SY_ERR_UPSTREAM_BAD_RESPONSE', err, Retry.Never, true, address);
  }
  if (code === 'UND_ERR_CLOSED' || code === 'UND_ERR_DESTROYED')
    return fail('SY_ERR_UPSTREAM_UNAVAILABLE', err, Retry.Never, false, address);
  if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED')
    return fail('SY_ERR_BAD_REQUEST', err, Retry.Never, false, address);
  if (code === 'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH')
    return fail('SY_ERR_BAD_BODY', err, Retry.Never, false, address);
  return fail('SY_ERR_UPSTREAM_RESET', err, Retry.Never, true, address);
}

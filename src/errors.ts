/**
 * One catalogue of failures. Every error Switchyard answers with maps through here: a stable code
 * (match on `err.code`, never on the message), an HTTP status and a short public reason. The
 * reason is what the client sees; causes and stacks go to the error log only.
 *
 * test/errors.test.ts keeps this catalogue and README's table of codes in step.
 */
import type { Reply } from './exchange.js';

export const catalogue = {
  // request checks (the engine and the pipeline, before any track runs)
  SY_ERR_BAD_REQUEST: { status: 400, reason: 'bad request' },
  SY_ERR_BAD_PATH: { status: 400, reason: 'bad request path' },
  SY_ERR_BAD_CONTENT_LENGTH: { status: 400, reason: 'invalid content-length' },
  SY_ERR_BAD_HOST: { status: 400, reason: 'missing, invalid or duplicate host' },
  SY_ERR_BAD_TRANSFER_ENCODING: { status: 400, reason: 'invalid transfer-encoding' },
  SY_ERR_UNSUPPORTED_TRANSFER_ENCODING: { status: 501, reason: 'unsupported transfer-encoding' },
  SY_ERR_CHUNKED_REFUSED: {
    status: 411,
    reason: 'length required: send the body with a Content-Length (chunked request bodies are refused here)',
  },
  SY_ERR_BAD_HEADER: { status: 400, reason: 'invalid header field' },
  SY_ERR_TOO_MANY_HEADERS: { status: 431, reason: 'too many header fields' },
  SY_ERR_HEADERS_TOO_LARGE: { status: 431, reason: 'request header fields too large' },
  SY_ERR_URI_TOO_LONG: { status: 414, reason: 'request target too long' },
  SY_ERR_BODY_TOO_LARGE: { status: 413, reason: 'request body too large' },
  SY_ERR_BAD_BODY: { status: 400, reason: 'invalid request body' },
  SY_ERR_NOT_FOUND: { status: 404, reason: 'not found' },
  SY_ERR_METHOD_NOT_ALLOWED: { status: 405, reason: 'method not allowed' },
  SY_ERR_RATE_LIMITED: { status: 429, reason: 'too many requests' },
  SY_ERR_FORBIDDEN: { status: 403, reason: 'forbidden' },
  SY_ERR_PRECONDITION_FAILED: { status: 412, reason: 'precondition failed' },
  SY_ERR_RANGE_NOT_SATISFIABLE: { status: 416, reason: 'range not satisfiable' },
  SY_ERR_PROXY_PROTOCOL: { status: 400, reason: 'missing or untrusted PROXY protocol header' },
  SY_ERR_SHUTTING_DOWN: { status: 503, reason: 'server is shutting down' },
  // time and cancellation
  SY_ERR_TIMEOUT: { status: 504, reason: 'request timed out' },
  SY_ERR_CLIENT_GONE: { status: 499, reason: 'client closed request' },
  SY_ERR_CANCELLED: { status: 499, reason: 'cancelled' },
  // handlers and responses
  SY_ERR_HANDLER: { status: 500, reason: 'internal server error' },
  SY_ERR_BAD_REPLY: { status: 500, reason: 'handler returned an invalid reply' },
  SY_ERR_BAD_RESPONSE_HEADER: { status: 500, reason: 'invalid response header' },
  SY_ERR_STREAM: { status: 500, reason: 'response stream failed' },
  // proxy
  SY_ERR_UPSTREAM_CONNECT: { status: 502, reason: 'upstream connection failed' },
  SY_ERR_UPSTREAM_RESET: { status: 502, reason: 'upstream connection reset' },
  SY_ERR_UPSTREAM_BAD_RESPONSE: { status: 502, reason: 'invalid upstream response' },
  SY_ERR_UPSTREAM_TIMEOUT: { status: 504, reason: 'upstream timed out' },
  SY_ERR_UPSTREAM_UNAVAILABLE: { status: 503, reason: 'no upstream server available' },
  SY_ERR_UPSTREAM_QUEUE_FULL: { status: 503, reason: 'upstream queue full' },
  // worker pool
  SY_ERR_POOL_FULL: { status: 503, reason: 'server busy, try again later' },
  SY_ERR_JOB_FAILED: { status: 500, reason: 'job failed' },
  SY_ERR_UNKNOWN_JOB: { status: 500, reason: 'unknown job' },
} as const satisfies Record<string, { status: number; reason: string }>;

export type ErrorCode = keyof typeof catalogue;

export interface ErrorOptions {
  cause?: unknown;
  /** the public reason (default: the catalogue's) */
  reason?: string;
  /** override the catalogue's status (handlers' own 4xx errors) */
  status?: number;
}

/**
 * The one error class of Switchyard. `reason` is public (sent to the client); `message` may carry
 * detail for the log; `cause` keeps the original error.
 */
export class SwitchyardError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly reason: string;
  /** Extra response headers that belong to this failure (e.g. Retry-After, Allow). */
  headers: Record<string, string> | undefined;

  constructor(code: ErrorCode, message?: string, options?: ErrorOptions) {
    const entry = catalogue[code];
    super(
      message ?? options?.reason ?? entry.reason,
      options?.cause === undefined ? undefined : { cause: options.cause },
    );
    this.name = 'SwitchyardError';
    this.code = code;
    this.status = options?.status ?? entry.status;
    this.reason = options?.reason ?? entry.reason;
    this.headers = undefined;
  }
}

/** An HTTP error status: a whole number 400–599. */
export function isErrorStatus(s: unknown): s is number {
  return typeof s === 'number' && Number.isInteger(s) && s >= 400 && s <= 599;
}

export function syError(code: ErrorCode, message?: string, options?: ErrorOptions): SwitchyardError {
  return new SwitchyardError(code, message, options);
}

/** Code of any error: ours, undici's (`UND_ERR_*`), Node's (`ECONNRESET`), or SY_ERR_HANDLER. */
export function errorCode(err: unknown): string {
  if (err !== null && typeof err === 'object' && 'code' in err && typeof err.code === 'string')
    return err.code;
  return 'SY_ERR_HANDLER';
}

/**
 * The reply for a failure: the public reason and the code, never a stack. JSON when the client
 * asked for JSON (`Accept: application/json`), plain text otherwise.
 */
export function errorReply(err: SwitchyardError, wantsJson: boolean): Reply {
  const headers: Record<string, string> = {
    'content-type': wantsJson ? 'application/json' : 'text/plain; charset=utf-8',
    'cache-control': 'no-store',
  };
  if (err.headers !== undefined) Object.assign(headers, err.headers);
  const body = wantsJson
    ? JSON.stringify({ error: err.reason, code: err.code, status: err.status })
    : `${err.reason} (${err.code})\n`;
  return { status: err.status, headers, body };
}

/** Any thrown value as a SwitchyardError: ours pass through, others become SY_ERR_HANDLER (500). */
export function asSwitchyardError(err: unknown): SwitchyardError {
  if (err instanceof SwitchyardError) return err;
  // Errors of other layers that carry one of our codes (the runtime's TimeoutError / Cancelled),
  // and SwitchyardErrors from another copy of this module (handlers loaded from dist/ in tests):
  // matched by shape, keeping their status, reason and headers. Only an object that names one of
  // our codes itself: a library's error with a `status` (http-errors, Octokit) or a thrown null is
  // a handler failure, 500, never a status of its choosing (a 200 error page).
  const code = err !== null && typeof err === 'object' ? (err as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && code in catalogue) {
    const e = err as Partial<SwitchyardError>;
    // Only a SwitchyardError's shape (it has an error status) carries a public reason: the
    // runtime's Cancelled also has a `reason` field, and it is not for clients to read.
    const ours = isErrorStatus(e.status);
    const out = new SwitchyardError(code as ErrorCode, e.message, {
      cause: err,
      status: ours ? e.status : undefined,
      reason: ours && typeof e.reason === 'string' ? e.reason : undefined,
    });
    if (ours && e.headers !== undefined) out.headers = e.headers;
    return out;
  }
  return new SwitchyardError('SY_ERR_HANDLER', err instanceof Error ? err.message : String(err), {
    cause: err,
  });
}

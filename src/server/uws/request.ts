/**
 * Copying a uWS request into plain values, and the checks uWS leaves to us (platform.md):
 * differing duplicate Content-Length, empty Content-Length, duplicate or empty Host, any
 * Transfer-Encoding other than `chunked`, too many or too large header fields, a too-long target.
 *
 * `req.forEach` takes a callback; to keep the hot path free of a closure per request the callback
 * is module-level and writes into one reused collector (forEach is synchronous and never nested).
 */
import type { HttpRequest } from 'uWebSockets.js';
import { type SwitchyardError, syError } from '../../errors.js';

export interface HeaderLimits {
  headers: number;
  headerBytes: number;
  uri: number;
}

/** What one pass over the header fields found. */
const c = {
  headers: [] as string[],
  bytes: 0,
  host: undefined as string | undefined,
  hostCount: 0,
  contentLength: undefined as string | undefined,
  clConflict: false,
  te: undefined as string | undefined,
  close: false,
};

function collect(name: string, value: string): void {
  c.headers.push(name, value);
  c.bytes += name.length + value.length + 4;
  // Compare length first: most fields are none of these three.
  switch (name.length) {
    case 4:
      if (name === 'host') {
        c.host = value;
        c.hostCount++;
      }
      break;
    case 10:
      // RFC 9112 §9.6: the client's `close` option
      if (name === 'connection' && !c.close) c.close = hasClose(value);
      break;
    case 14:
      if (name === 'content-length') {
        if (c.contentLength === undefined) c.contentLength = value;
        else if (c.contentLength !== value) c.clConflict = true;
      }
      break;
    case 17:
      if (name === 'transfer-encoding') c.te = c.te === undefined ? value : `${c.te}, ${value}`;
      break;
  }
}

/** Is `close` among the comma-separated options of a Connection value? */
function hasClose(value: string): boolean {
  const v = value.toLowerCase();
  if (!v.includes('close')) return false;
  for (const t of v.split(',')) if (t.trim() === 'close') return true;
  return false;
}

export interface CopiedRequest {
  headers: string[];
  host: string;
  /** the client asked for `Connection: close` */
  close: boolean;
  /** declared body length: -1 chunked, 0 none */
  declared: number;
  problem: SwitchyardError | undefined;
}

const DIGITS = /^\d{1,15}$/;

/**
 * RFC 9110 §7.2 / RFC 3986 §3.2.2: Host = uri-host [ ":" port ], uri-host an IP-literal in
 * brackets or a reg-name (unreserved, sub-delims, %XX). RFC 9112 §3.2: any other value → 400.
 * Routing (`host:`), redirects (`$host`) and the upstream all use it.
 */
const HOST = /^(?:\[[0-9A-Za-z:.]+\]|(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+)(?::[0-9]*)?$/;
/** The last Host value found valid: clients send the same one again and again. */
let goodHost = '';

function validHost(host: string): boolean {
  if (host === goodHost) return true;
  if (!HOST.test(host)) return false;
  goodHost = host;
  return true;
}

/** Start a new request (a function of its own, so TypeScript does not narrow `c` afterwards). */
function reset(targetLength: number): void {
  c.headers = [];
  c.bytes = targetLength + 16;
  c.host = undefined;
  c.hostCount = 0;
  c.contentLength = undefined;
  c.clConflict = false;
  c.te = undefined;
  c.close = false;
}

/** Copy the header fields of `req` and run the request checks. Call synchronously in the handler. */
export function copyRequest(
  req: HttpRequest,
  targetLength: number,
  limits: HeaderLimits,
  out: CopiedRequest,
): void {
  reset(targetLength);
  req.forEach(collect);

  out.headers = c.headers;
  out.host = c.host ?? '';
  out.close = c.close;
  out.declared = 0;
  out.problem = undefined;

  const count = c.headers.length >> 1;
  if (targetLength > limits.uri) {
    out.problem = syError(
      'SY_ERR_URI_TOO_LONG',
      `request target of ${targetLength} bytes (limit ${limits.uri})`,
    );
  } else if (count > limits.headers) {
    out.problem = syError('SY_ERR_TOO_MANY_HEADERS', `${count} header fields (limit ${limits.headers})`);
  } else if (c.bytes > limits.headerBytes) {
    out.problem = syError(
      'SY_ERR_HEADERS_TOO_LARGE',
      `${c.bytes} bytes of header (limit ${limits.headerBytes})`,
    );
  } else if (c.hostCount !== 1 || !validHost(c.host!)) {
    out.problem = syError(
      'SY_ERR_BAD_HOST',
      c.hostCount === 0
        ? 'no Host field'
        : c.hostCount > 1
          ? `${c.hostCount} Host fields`
          : `Host "${c.host!.slice(0, 100)}"`,
    );
  } else if (c.te !== undefined) {
    // RFC 9112 §6.3: when chunked is not the final coding the length cannot be known → 400;
    // §6.1: chunked applied twice is invalid → 400; any other coding we do not implement → 501.
    const te = c.te.trim().toLowerCase();
    if (te !== 'chunked') {
      const codings = te.split(',').map((x) => x.trim());
      const chunkedCount = codings.filter((x) => x === 'chunked').length;
      out.problem =
        codings.at(-1) !== 'chunked' || chunkedCount > 1
          ? syError('SY_ERR_BAD_TRANSFER_ENCODING', `Transfer-Encoding "${c.te}"`)
          : syError('SY_ERR_UNSUPPORTED_TRANSFER_ENCODING', `Transfer-Encoding "${c.te}"`);
    } else if (c.contentLength !== undefined) {
      // RFC 9112 §6.3: both present is a smuggling vector; refuse and close.
      out.problem = syError('SY_ERR_BAD_CONTENT_LENGTH', 'both Content-Length and Transfer-Encoding');
    } else {
      out.declared = -1;
    }
  } else if (c.contentLength !== undefined) {
    if (c.clConflict) {
      out.problem = syError('SY_ERR_BAD_CONTENT_LENGTH', 'Content-Length fields with different values');
    } else if (!DIGITS.test(c.contentLength)) {
      out.problem = syError('SY_ERR_BAD_CONTENT_LENGTH', `Content-Length "${c.contentLength}"`);
    } else {
      out.declared = Number(c.contentLength);
    }
  }
}

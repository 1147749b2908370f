/**
 * The request checks every engine runs on a request head, whatever its parser already refused:
 * differing duplicate Content-Length, empty Content-Length, duplicate, empty or malformed Host,
 * any Transfer-Encoding other than `chunked`, too many or too large header fields, a too-long
 * target (docs/uws.md lists what the uWS parser leaves to us).
 *
 * An engine calls `beginHead`, then `collectField(name, value)` for each field in wire order
 * (names lower-cased), then `endHead`. The collector is module-level and reused, so an engine
 * whose header iteration takes a callback (uWS's `forEach`) needs no closure per request; the
 * three calls are synchronous and never nested.
 */
import { type SwitchyardError, syError } from '../errors.js';

export interface HeaderLimits {
  headers: number;
  headerBytes: number;
  uri: number;
}

/** What one pass over the header fields found. */
const c = {
  target: 0,
  headers: [] as string[],
  bytes: 0,
  host: undefined as string | undefined,
  hostCount: 0,
  contentLength: undefined as string | undefined,
  clConflict: false,
  te: undefined as string | undefined,
  close: false,
};

/** One field of the head, in wire order, name lower-cased. */
export function collectField(name: string, value: string): void {
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

/** Start a new request head (a function of its own, so TypeScript does not narrow `c` afterwards). */
export function beginHead(targetLength: number): void {
  c.target = targetLength;
  c.headers = [];
  c.bytes = targetLength + 16;
  c.host = undefined;
  c.hostCount = 0;
  c.contentLength = undefined;
  c.clConflict = false;
  c.te = undefined;
  c.close = false;
}

/** The head is complete: run the checks and write what was found into `out`. */
export function endHead(limits: HeaderLimits, out: CopiedRequest): void {
  out.headers = c.headers;
  out.host = c.host ?? '';
  out.close = c.close;
  out.declared = 0;
  out.problem = undefined;

  const count = c.headers.length >> 1;
  const targetLength = c.target;
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

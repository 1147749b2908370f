/**
 * Answers to bytes llhttp could not parse (node:http's 'clientError'): a status per RFC 9110 /
 * RFC 9112, our usual error body, `Connection: close` — the parser is dead after an error, so the
 * connection cannot carry another request. Written on the raw socket: no request object exists.
 */
import { errorReply, type SwitchyardError, syError } from '../../errors.js';
import { statusLine } from '../../http/reply-rules.js';
import type { HeaderLimits } from '../../http/request-checks.js';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ /;

/** The first line of what failed to parse, as far as it arrived. */
function firstLine(raw: Buffer | undefined): string {
  if (raw === undefined) return '';
  const end = raw.indexOf(10);
  return raw.subarray(0, end === -1 ? raw.length : end).toString('latin1');
}

/**
 * What to answer a parse error with. llhttp's codes (`HPE_*`) say what failed; the raw bytes tell
 * a method that is a well-formed token (not implemented: 501, RFC 9110 §9.1) from garbage (400),
 * and a request line too long (414) from a header section too large (431).
 */
export function parseErrorFor(
  err: Error & { code?: string; rawPacket?: Buffer },
  limits: HeaderLimits,
): SwitchyardError {
  const line = firstLine(err.rawPacket);
  const why = `${err.code ?? 'parse error'}: ${err.message}`;
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW':
      return line.length > limits.uri + 16
        ? syError('SY_ERR_URI_TOO_LONG', `request line over ${limits.uri} bytes`)
        : syError('SY_ERR_HEADERS_TOO_LARGE', why);
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return syError('SY_ERR_BAD_REQUEST', 'the request did not arrive in time', {
        status: 408,
        reason: 'request timeout',
      });
    case 'HPE_INVALID_VERSION':
      // a well-formed version we do not speak (HTTP/1.2, HTTP/3.0): RFC 9110 §15.6.6
      if (/ HTTP\/\d\.\d\r?$/.test(line) && !/ HTTP\/1\.[01]\r?$/.test(line))
        return syError('SY_ERR_BAD_REQUEST', why, { status: 505, reason: 'HTTP version not supported' });
      return syError('SY_ERR_BAD_REQUEST', why);
    case 'HPE_INVALID_METHOD':
      if (TOKEN.test(line))
        return syError('SY_ERR_BAD_REQUEST', why, { status: 501, reason: 'method not implemented' });
      return syError('SY_ERR_BAD_REQUEST', why);
    case 'HPE_INVALID_CONTENT_LENGTH':
    case 'HPE_UNEXPECTED_CONTENT_LENGTH':
      return syError('SY_ERR_BAD_CONTENT_LENGTH', why);
    case 'HPE_INVALID_TRANSFER_ENCODING':
      return syError('SY_ERR_BAD_TRANSFER_ENCODING', why);
    case 'HPE_INVALID_CHUNK_SIZE':
    case 'HPE_CHUNK_EXTENSIONS_OVERFLOW':
    case 'HPE_INVALID_EOF_STATE':
      return syError('SY_ERR_BAD_BODY', why);
    case 'HPE_INVALID_HEADER_TOKEN':
    case 'HPE_UNEXPECTED_SPACE':
      return syError('SY_ERR_BAD_HEADER', why);
  }
  return syError('SY_ERR_BAD_REQUEST', why);
}

/** Did the unparseable bytes start as a HEAD request? (Then the answer has no body.) */
export function isHead(err: { rawPacket?: Buffer }): boolean {
  return firstLine(err.rawPacket).startsWith('HEAD ');
}

/** A complete HTTP/1.1 response that closes the connection (no body when answering HEAD). */
export function rawRefusal(err: SwitchyardError, head = false): string {
  const r = errorReply(err, false);
  const body = r.body as string;
  let s = `HTTP/1.1 ${statusLine(r.status) ?? '400 Bad Request'}\r\n`;
  for (const [k, v] of Object.entries(r.headers ?? {})) s += `${k}: ${String(v)}\r\n`;
  s += `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\ndate: ${new Date().toUTCString()}\r\n\r\n`;
  return head ? s : s + body;
}

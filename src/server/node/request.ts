/**
 * Copying a node:http / node:http2 request head into the engine-neutral checks
 * (src/http/request-checks.ts), and the request-target forms of RFC 9112 §3.2.
 *
 * llhttp (strict: `insecureHTTPParser` is never set) has already refused what does not parse:
 * bad request lines, field names and values with control bytes, obs-fold, bare CR, invalid
 * chunked framing, Content-Length with Transfer-Encoding. What it accepts is checked again here
 * the same way as on every engine (Host, duplicate lengths, codings, limits).
 */
import { isUtf8 } from 'node:buffer';
import type { Socket } from 'node:net';
import { syError } from '../../errors.js';
import { normaliseAddress } from '../../http/address.js';
import {
  beginHead,
  type CopiedRequest,
  collectField,
  endHead,
  type HeaderLimits,
} from '../../http/request-checks.js';
import type { NodeRequest } from './body.js';

/** The request-target split into what the Exchange needs. */
export interface Target {
  path: string;
  query: string;
  /** absolute-form: the authority, which replaces any Host field (RFC 9112 §3.2.2) */
  authority: string | undefined;
}

const ABSOLUTE = /^https?:\/\/([^/?#]*)(.*)$/i;

/**
 * Split a request-target. Origin-form (`/a?b`) is the common case; absolute-form
 * (`http://host/a?b`) is what proxies and some clients send and must be accepted (RFC 9112
 * §3.2.2); anything else (`*` outside OPTIONS, `f`, authority-form outside CONNECT) is returned
 * with an empty path, which the pipeline refuses as a bad path (400).
 */
export function splitTarget(url: string, out: Target): void {
  out.authority = undefined;
  let rest = url;
  if (url.charCodeAt(0) !== 47 /* / */) {
    const m = ABSOLUTE.exec(url);
    if (m === null) {
      out.path = url;
      out.query = '';
      return;
    }
    out.authority = m[1]!;
    rest = m[2] === '' ? '/' : m[2]!;
  }
  const q = rest.indexOf('?');
  out.path = q === -1 ? rest : rest.slice(0, q);
  out.query = q === -1 ? '' : rest.slice(q + 1);
}

const HIGH = /[\x80-\xff]/;

/**
 * A field value as every engine hands it on: bytes ≥ 0x80 (obs-text) decoded as UTF-8, which is
 * how the proxy sends them on unchanged. node decodes values as latin1; a value that is not
 * valid UTF-8 cannot be carried faithfully, so it is refused (undefined) rather than altered.
 */
function asUtf8(v: string): string | undefined {
  const bytes = Buffer.from(v, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : undefined;
}

/** `host:port` of the address a connection was accepted on (a Host for HTTP/1.0 requests without one). */
function localHost(socket: Socket | null | undefined): string {
  const a = socket?.localAddress;
  if (a === undefined) return 'localhost';
  const n = normaliseAddress(a);
  return n.includes(':') ? `[${n}]:${socket!.localPort}` : `${n}:${socket!.localPort}`;
}

/**
 * Run the request checks over `req`'s header fields (wire order, names lower-cased).
 *
 * - absolute-form: the target's authority is the Host; received Host fields are ignored.
 * - HTTP/1.0 without Host (HAProxy's `option httpchk`, old monitors): the address the connection
 *   came in on stands in, as nginx uses its server name. HTTP/1.1 without Host stays a 400.
 * - HTTP/2: `:authority` is the Host when there is no Host field (RFC 9113 §8.3.1); pseudo-header
 *   fields are not header fields; `cookie` fields split by HTTP/2 are joined with "; " (§8.2.3)
 *   so an HTTP/1.1 upstream gets one.
 */
export function copyRequest(
  req: NodeRequest,
  target: Target,
  limits: HeaderLimits,
  out: CopiedRequest,
): void {
  const raw = req.rawHeaders;
  const h2 = req.httpVersionMajor === 2;
  beginHead((req.url ?? '').length);
  let hosts = 0;
  let authority = target.authority;
  let cookie: string | undefined;
  let notUtf8: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i]!.toLowerCase();
    let value = raw[i + 1]!;
    if (HIGH.test(value)) {
      const v = asUtf8(value);
      if (v === undefined) notUtf8 ??= name;
      else value = v;
    }
    if (h2) {
      if (name.charCodeAt(0) === 58 /* : */) {
        if (name === ':authority') authority ??= value;
        continue;
      }
      if (name === 'cookie') {
        cookie = cookie === undefined ? value : `${cookie}; ${value}`;
        continue;
      }
    }
    if (name === 'host') {
      if (target.authority !== undefined) continue;
      hosts++;
    }
    collectField(name, value);
  }
  if (cookie !== undefined) collectField('cookie', cookie);
  if (target.authority !== undefined) collectField('host', target.authority);
  else if (hosts === 0) {
    if (h2 && authority !== undefined) collectField('host', authority);
    else if (req.httpVersionMajor === 1 && req.httpVersionMinor === 0)
      collectField('host', localHost(req.socket as Socket));
  }
  endHead(limits, out);
  if (notUtf8 !== undefined && out.problem === undefined)
    out.problem = syError('SY_ERR_BAD_HEADER', `the value of ${notUtf8.slice(0, 100)} is not valid UTF-8`);
}

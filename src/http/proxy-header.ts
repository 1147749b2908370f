/**
 * The PROXY protocol header (HAProxy's spec, versions 1 and 2), parsed from the first bytes of a
 * connection. Pure: bytes in, a verdict out; the engine that reads the socket is elsewhere.
 *
 * - v1: `PROXY TCP4|TCP6 src dst sport dport\r\n` (at most 107 bytes), or `PROXY UNKNOWN …\r\n`.
 * - v2: a 12-byte signature, version/command, family, a 16-bit length, then the addresses (and
 *   TLVs, which are skipped). Command LOCAL (a balancer's own health check) and families other
 *   than TCP/UDP over IPv4/IPv6 carry no client: the connection's peer stands for itself.
 *
 * Anything malformed is an error, never a guess: the connection is refused.
 */
import { isIPv4, isIPv6 } from 'node:net';

export const V2_SIGNATURE = Buffer.from([
  0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a,
]);
const V1_PREFIX = Buffer.from('PROXY ');
const V1_MAX = 107;
/** TLVs included; a header longer than this is refused (HAProxy sends well under 1 KiB) */
const V2_MAX = 4096;

export type ProxyVersions = 'v1' | 'v2' | 'any';

export type ProxyHeader =
  /** more bytes are needed */
  | { kind: 'partial' }
  | { kind: 'error'; reason: string }
  /** `source`: the client's address, undefined when the header names none (LOCAL, UNKNOWN) */
  | { kind: 'done'; version: 1 | 2; source: string | undefined; length: number };

const PARTIAL: ProxyHeader = { kind: 'partial' };

/** A prefix of `sig` (the bytes so far may be the start of it)? */
function startsLike(buf: Buffer, sig: Buffer): boolean {
  const n = Math.min(buf.length, sig.length);
  return buf.subarray(0, n).equals(sig.subarray(0, n));
}

function port(s: string): boolean {
  return /^(0|[1-9]\d{0,4})$/.test(s) && Number(s) <= 65535;
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf('\r\n');
  if (end === -1) {
    return buf.length >= V1_MAX ? { kind: 'error', reason: 'PROXY v1 line over 107 bytes' } : PARTIAL;
  }
  if (end + 2 > V1_MAX) return { kind: 'error', reason: 'PROXY v1 line over 107 bytes' };
  const parts = buf.subarray(0, end).toString('latin1').split(' ');
  if (parts[1] === 'UNKNOWN') return { kind: 'done', version: 1, source: undefined, length: end + 2 };
  const [, proto, src, dst, sport, dport, ...more] = parts;
  const valid = proto === 'TCP4' ? isIPv4 : proto === 'TCP6' ? isIPv6 : undefined;
  if (
    valid === undefined ||
    more.length > 0 ||
    !valid(src ?? '') ||
    !valid(dst ?? '') ||
    !port(sport ?? '') ||
    !port(dport ?? '')
  ) {
    return { kind: 'error', reason: 'malformed PROXY v1 line' };
  }
  return { kind: 'done', version: 1, source: src, length: end + 2 };
}

/** 16 bytes as an IPv6 address in its canonical text form (RFC 5952: zeros compressed). */
function ipv6(b: Buffer): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  return new URL(`http://[${groups.join(':')}]/`).hostname.slice(1, -1);
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < 16) return PARTIAL;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { kind: 'error', reason: `PROXY v2 version ${verCmd >> 4}` };
  const cmd = verCmd & 0x0f;
  if (cmd > 1) return { kind: 'error', reason: `PROXY v2 command ${cmd}` };
  const family = buf[13]!;
  const len = buf.readUInt16BE(14);
  if (16 + len > V2_MAX) return { kind: 'error', reason: `PROXY v2 header of ${16 + len} bytes` };
  if (buf.length < 16 + len) return PARTIAL;
  const length = 16 + len;
  if (cmd === 0) return { kind: 'done', version: 2, source: undefined, length }; // LOCAL
  const af = family >> 4;
  const body = buf.subarray(16, length);
  if (af === 1) {
    if (len < 12) return { kind: 'error', reason: 'PROXY v2 IPv4 addresses truncated' };
    return { kind: 'done', version: 2, source: [...body.subarray(0, 4)].join('.'), length };
  }
  if (af === 2) {
    if (len < 36) return { kind: 'error', reason: 'PROXY v2 IPv6 addresses truncated' };
    return { kind: 'done', version: 2, source: ipv6(body.subarray(0, 16)), length };
  }
  return { kind: 'done', version: 2, source: undefined, length }; // AF_UNSPEC, AF_UNIX
}

/** Parse the header at the start of `buf` (everything received so far). */
export function parseProxyHeader(buf: Buffer, versions: ProxyVersions): ProxyHeader {
  if (versions !== 'v1' && startsLike(buf, V2_SIGNATURE)) {
    return buf.length < V2_SIGNATURE.length ? PARTIAL : parseV2(buf);
  }
  if (versions !== 'v2' && startsLike(buf, V1_PREFIX)) {
    return buf.length < V1_PREFIX.length ? PARTIAL : parseV1(buf);
  }
  const want = versions === 'any' ? 'a PROXY header' : `a PROXY ${versions} header`;
  return { kind: 'error', reason: `no ${want}` };
}

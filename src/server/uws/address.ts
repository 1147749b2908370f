/**
 * The peer address of a uWS response, read from its binary form (`getRemoteAddress`: 4 or 16
 * bytes) rather than its text form: decoding uWS's text (an uncompressed IPv6 string in an
 * ArrayBuffer) took a third of the busy time of a hello handler with the access log on (a CPU
 * profile, docs/performance.md). IPv4 and IPv4-mapped IPv6 peers — nearly all — are formatted
 * from the four bytes through a cache keyed by the 32-bit number, so a request from a known
 * address allocates nothing but the ArrayBuffer uWS returns. Other IPv6 peers take the text path
 * and `normaliseAddress`, which caches too.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { normaliseAddress } from '../../http/address.js';

const decoder = new TextDecoder('latin1');
const ipv4 = new Map<number, string>();

/** The peer address as uWS writes it as text (IPv4-mapped IPv6, uncompressed). */
function rawPeerAddress(res: HttpResponse): string {
  return decoder.decode(res.getRemoteAddressAsText());
}

export function peerAddress(res: HttpResponse): string {
  const b = new Uint8Array(res.getRemoteAddress());
  let at = -1;
  if (b.length === 4) at = 0;
  else if (
    b.length === 16 &&
    b[10] === 255 &&
    b[11] === 255 &&
    (b[0]! | b[1]! | b[2]! | b[3]! | b[4]! | b[5]! | b[6]! | b[7]! | b[8]! | b[9]!) === 0
  )
    at = 12;
  if (at < 0) return normaliseAddress(rawPeerAddress(res));
  const key = ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;
  let s = ipv4.get(key);
  if (s === undefined) {
    s = `${b[at]}.${b[at + 1]}.${b[at + 2]}.${b[at + 3]}`;
    if (ipv4.size >= 4096) ipv4.clear();
    ipv4.set(key, s);
  }
  return s;
}

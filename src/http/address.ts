/**
 * Peer addresses as logs, X-Forwarded-For and `trusted_proxies` want them: IPv4 as a.b.c.d (also
 * when the transport reports an IPv4-mapped IPv6 address, as uWS does in uncompressed form,
 * `0000:0000:0000:0000:0000:ffff:7f00:0001`, and node:net as `::ffff:127.0.0.1`), IPv6 with
 * leading zeros dropped and lower-cased. Results are cached: a server sees the same few
 * addresses again and again.
 */
const addressCache = new Map<string, string>();

export function normaliseAddress(raw: string): string {
  let a = addressCache.get(raw);
  if (a !== undefined) return a;
  a = raw;
  if (raw.startsWith('0000:0000:0000:0000:0000:ffff:') && raw.length === 39) {
    const hi = Number.parseInt(raw.slice(30, 34), 16);
    const lo = Number.parseInt(raw.slice(35, 39), 16);
    a = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  } else if (raw.startsWith('::ffff:') && raw.includes('.')) {
    a = raw.slice(7);
  } else if (raw.includes(':')) {
    a = raw
      .split(':')
      .map((p) => p.replace(/^0+(?=.)/, ''))
      .join(':')
      .toLowerCase();
  }
  if (addressCache.size > 4096) addressCache.clear();
  addressCache.set(raw, a);
  return a;
}

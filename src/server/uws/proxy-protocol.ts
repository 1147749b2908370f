/**
 * PROXY protocol on the uWS engine. This uWS build parses a v2 header natively on every
 * connection, from any peer, and answers nothing to v1 (the connection idles until uWS's ~10 s
 * timer; docs/proxy-protocol.md has the probe). So: the source address a v2 header gave is read
 * only on `proxy_protocol` listeners, and believed only from a peer in `trusted_proxies`; on such
 * a listener a request without one, or from any other peer, is refused. Elsewhere a v2 header is
 * ignored (the TCP peer is the client). v1 is refused at config time.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { syError } from '../../errors.js';
import { normaliseAddress } from '../../http/address.js';
import type { UwsExchange } from './exchange.js';

const decoder = new TextDecoder();

/** Check a request on a PROXY protocol listener; on failure it gets a problem and closes. */
export function checkProxied(
  ex: UwsExchange,
  res: HttpResponse,
  pp: { trusted(peer: string): boolean },
): void {
  const source = decoder.decode(res.getProxiedRemoteAddressAsText());
  const peer = ex.remoteAddress;
  if (source !== '' && pp.trusted(peer)) {
    ex.proxied = normaliseAddress(source);
    return;
  }
  ex.closeAfter = true;
  ex.problem ??= syError(
    'SY_ERR_PROXY_PROTOCOL',
    source === '' ? `no PROXY v2 header from ${peer}` : `PROXY header from ${peer}, not in trusted_proxies`,
  );
}

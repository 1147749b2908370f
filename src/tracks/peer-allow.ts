/**
 * `allow:` for the operator tracks (metrics, status): which clients may read them, in
 * proxy-addr's syntax (addresses, CIDRs, `loopback`, `linklocal`, `uniquelocal`). The default is
 * `[loopback]`: a server's internals are not for the internet unless the operator says so.
 *
 * The client is the one the access log names (as nginx's realip module makes it): the TCP peer,
 * unless that peer is in `trusted_proxies` — then the source a trusted balancer's PROXY header
 * gives, or the nearest untrusted X-Forwarded-For entry. Otherwise a proxy on the same host (a
 * loopback peer) would open these pages to everyone behind it. X-Forwarded-For from a peer that
 * is not trusted is never read (any client can write it).
 */
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { proxyAddrEntry } from '../config/fields.js';
import type { Exchange } from '../exchange.js';
import type { Trust } from '../proxy/trust.js';

export const allowList = z.array(proxyAddrEntry).min(1).default(['loopback']);

/** The check for one route, built once; `trust`: the config's `trusted_proxies`. */
export function compileAllow(list: readonly string[], trust: Trust): (ex: Exchange) => boolean {
  const fn = proxyaddr.compile([...list]);
  return (ex) => fn(trust.clientAddress(ex), 0);
}

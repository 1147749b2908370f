/**
 * `allow:` for the operator tracks (metrics, status): which TCP peers may read them, in
 * proxy-addr's syntax (addresses, CIDRs, `loopback`, `linklocal`, `uniquelocal`). The default is
 * `[loopback]`: a server's internals are not for the internet unless the operator says so. The
 * TCP peer is checked, never X-Forwarded-For (which any client can write).
 */
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { proxyAddrEntry } from '../config/fields.js';
import type { Exchange } from '../exchange.js';

export const allowList = z.array(proxyAddrEntry).min(1).default(['loopback']);

/** The check for one route, built once. */
export function compileAllow(list: readonly string[]): (ex: Exchange) => boolean {
  const fn = proxyaddr.compile([...list]);
  return (ex) => fn(ex.remoteAddress, 0);
}

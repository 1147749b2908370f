/**
 * Which peers may tell us who the client is (`trusted_proxies`: CIDRs, addresses, or proxy-addr's
 * names `loopback`, `linklocal`, `uniquelocal`). Only a request arriving from one of them has its
 * X-Forwarded-For appended to (and its X-Forwarded-Proto / -Host, Forwarded and X-Real-IP passed
 * on); from anyone else those headers are replaced or dropped, since any client can write them.
 *
 * proxy-addr parses the address on every call (≈ 1 µs); the answer per address is cached (the
 * set of peer addresses is small: clients, or the few proxies in front of us).
 */
import proxyaddr from 'proxy-addr';
import type { Exchange } from '../exchange.js';

const CACHE_MAX = 4096;

export class Trust {
  private readonly fn: ((addr: string, i: number) => boolean) | null;
  private readonly cache = new Map<string, boolean>();

  /** Throws a TypeError naming the bad entry (at start-up). */
  constructor(list: readonly string[]) {
    if (list.length === 0) {
      this.fn = null;
      return;
    }
    for (const entry of list) {
      try {
        proxyaddr.compile(entry);
      } catch (err) {
        throw new TypeError(`trusted_proxies: "${entry}": ${(err as Error).message}`);
      }
    }
    this.fn = proxyaddr.compile([...list]);
  }

  /** Does any peer count as trusted (`trusted_proxies` is not empty)? */
  get any(): boolean {
    return this.fn !== null;
  }

  /** Is this peer address a trusted proxy? */
  trusted(addr: string): boolean {
    const fn = this.fn;
    if (fn === null) return false;
    let t = this.cache.get(addr);
    if (t === undefined) {
      t = fn(addr, 0);
      if (this.cache.size >= CACHE_MAX) this.cache.clear();
      this.cache.set(addr, t);
    }
    return t;
  }

  /**
   * The client's address: the peer's (or the PROXY protocol's source), or, when that is trusted, the right-most address of
   * X-Forwarded-For that is not itself a trusted proxy (proxy-addr's rule).
   */
  clientAddress(ex: Exchange): string {
    let addr = ex.proxied ?? ex.remoteAddress;
    if (!this.trusted(addr)) return addr;
    const h = ex.headers;
    // Fields in reverse order, and entries right to left within each.
    for (let i = h.length - 2; i >= 0; i -= 2) {
      if (h[i] !== 'x-forwarded-for') continue;
      const parts = h[i + 1]!.split(',');
      for (let j = parts.length - 1; j >= 0; j--) {
        const a = parts[j]!.trim();
        if (a === '') continue;
        addr = a;
        if (!this.trusted(a)) return a;
      }
    }
    return addr;
  }
}

/**
 * An upstream: its peers (primaries and backups), a balancer per tier, the retry and hedging
 * settings, and the hash key. `select` is the one decision per attempt:
 *
 * 1. an available primary not yet tried for this request, by the balancing policy;
 * 2. else an available backup not yet tried (backups serve only when no primary can);
 * 3. else, if no peer at all is available (every one is down): panic, try the untried ones anyway,
 *    primaries first, rather than answer 503 to everything while they may have come back;
 * 4. else none (every available peer was tried): the caller stops retrying.
 */
import { performance } from 'node:perf_hooks';
import type { UpstreamConfig } from '../config/schema.js';
import type { Exchange } from '../exchange.js';
import { PeerStats } from '../observe/metrics.js';
import type { UpstreamHandle } from '../services.js';
import { type Balancer, createBalancer } from './balancer.js';
import { Peer, type PeerEvents, type PeerHealth } from './peer.js';
import type { Trust } from './trust.js';

const NONE: readonly Peer[] = [];

/** How a request's hash key is found (`hash_key`). */
type KeyOf = (ex: Exchange) => string | undefined;

function compileKey(spec: string | undefined, trust: Trust): KeyOf | null {
  if (spec === undefined) return null;
  if (spec === 'ip') return (ex) => trust.clientAddress(ex);
  if (spec.startsWith('header:')) {
    const name = spec.slice(7).toLowerCase();
    return (ex) => ex.header(name);
  }
  const cookie = spec.slice(7);
  return (ex) => cookieValue(ex, cookie);
}

/** The value of cookie `name` in the request's Cookie fields. */
export function cookieValue(ex: Exchange, name: string): string | undefined {
  const h = ex.headers;
  for (let i = 0; i < h.length; i += 2) {
    if (h[i] !== 'cookie') continue;
    for (const pair of h[i + 1]!.split(';')) {
      const eq = pair.indexOf('=');
      if (eq !== -1 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim();
    }
  }
  return undefined;
}

export class Upstream implements UpstreamHandle {
  readonly name: string;
  readonly peers: readonly Peer[];
  /** how many servers are not backups */
  readonly primaries: number;
  readonly tries: number;
  readonly nonIdempotent: boolean;
  /** ms; 0 = no hedging */
  readonly hedge: number;
  private readonly primary: Balancer;
  private readonly backup: Balancer | null;
  private readonly keyOf: KeyOf | null;

  /** `health(i)`: server i's shared passive-health words; `connections`: this thread's cap per server */
  constructor(
    name: string,
    cfg: UpstreamConfig,
    trust: Trust,
    events: PeerEvents,
    health: (i: number) => PeerHealth,
    connections: number = cfg.connections,
    statsOf: (server: string) => PeerStats = (server) => new PeerStats(name, server),
  ) {
    this.name = name;
    this.peers = cfg.servers.map((s, i) => new Peer(s, i, cfg, events, health(i), statsOf, connections));
    const primaries = this.peers.filter((p) => !p.backup);
    const backups = this.peers.filter((p) => p.backup);
    this.primaries = primaries.length;
    this.primary = createBalancer(cfg.balance, primaries);
    this.backup = backups.length === 0 ? null : createBalancer(cfg.balance, backups);
    this.tries = cfg.retries.tries;
    this.nonIdempotent = cfg.retries.non_idempotent;
    this.hedge = cfg.hedge ?? 0;
    this.keyOf = cfg.balance === 'hash' ? compileKey(cfg.hash_key, trust) : null;
  }

  // UpstreamHandle, for handlers that talk to the upstream themselves (its first server).
  get origin(): string {
    return this.peers[0]!.origin;
  }
  get dispatcher(): Peer['pool'] {
    return this.peers[0]!.pool;
  }

  /** The request's hash key (undefined without `balance: hash`, or when the request has none). */
  key(ex: Exchange): string | undefined {
    return this.keyOf === null ? undefined : this.keyOf(ex);
  }

  /** The peer for the next attempt, or undefined (see the file comment). */
  select(key: string | undefined, tried: readonly Peer[]): Peer | undefined {
    const now = performance.now();
    const p = this.primary.choose(key, tried, true, now) ?? this.backup?.choose(key, tried, true, now);
    if (p !== undefined) return p;
    for (const peer of this.peers) if (peer.available(now)) return undefined;
    return this.primary.choose(key, tried, false, now) ?? this.backup?.choose(key, tried, false, now);
  }

  /** A peer for a hedge: an available primary not yet tried (never a backup, never in panic). */
  hedgePeer(key: string | undefined, tried: readonly Peer[]): Peer | undefined {
    return this.primary.choose(key, tried, true, performance.now());
  }

  /**
   * A peer for one more attempt when every peer has been tried: the stale keep-alive case, where
   * a fresh connection to the same server is the right retry. Available ones first.
   */
  again(key: string | undefined): Peer | undefined {
    const now = performance.now();
    return (
      this.primary.choose(key, NONE, true, now) ??
      this.backup?.choose(key, NONE, true, now) ??
      this.primary.choose(key, NONE, false, now)
    );
  }

  async close(): Promise<void> {
    await Promise.all(
      this.peers.map(async (p) => {
        // Give in-flight requests a moment, then cut (drain has already waited for them).
        const t = setTimeout(() => void p.pool.destroy().catch(() => {}), 1000);
        try {
          await p.pool.close();
        } catch {
          // already destroyed
        } finally {
          clearTimeout(t);
        }
      }),
    );
  }
}

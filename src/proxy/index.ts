/**
 * The proxy track: `upstreams:` from the config, built once at start-up, and the track function of
 * each `proxy:` route. One file per concept beside this one:
 *
 *   peer.ts            one server: its undici Pool, load, passive health
 *   balancer.ts        round-robin (smooth weighted), least-conn, hash (ring.ts), random-two
 *   upstream.ts        tiers (primaries, backups), panic, the hash key
 *   health.ts          active health checks
 *   forward.ts         a route: build the upstream request, run the attempts, make the Reply
 *   retry.ts           attempts and when to retry (failure.ts classifies errors)
 *   hedge.ts           hedged requests with the runtime's `pick`
 *   attempt.ts         one undici request: the dispatch handler and the response body iterator
 *   request-headers.ts / response-headers.ts / header-rules.ts / trust.ts    header rules
 *   path.ts, request-body.ts
 *   websocket.ts       WebSocket upgrades: connect upstream first, then relay both ways
 */
import type { Config } from '../config/schema.js';
import type { Logs } from '../observe/log.js';
import { type PeerStats, Stats } from '../observe/metrics.js';
import { names } from '../region/plan.js';
import type { SharedRegion } from '../region/region.js';
import type { UpstreamHandle } from '../services.js';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import type { RunFn } from '../tracks/track.js';
import { ProxyRoute } from './forward.js';
import { ActiveHealth } from './health.js';
import type { Peer, PeerEvents } from './peer.js';
import { Trust } from './trust.js';
import { Upstream } from './upstream.js';
import { WsProxyRoute } from './websocket.js';

export interface UpstreamsOptions {
  logs: Logs;
  /** the route table's shared region: passive health (see plan.ts for the names) */
  region: SharedRegion;
  /**
   * With acceptor threads: this thread's index and the thread count. `connections` is a total
   * per server, so each thread's pool gets its share (the remainder to the first threads, at
   * least one each: with fewer connections than threads the total is the thread count).
   */
  share?: { index: number; of: number } | undefined;
  /** where each server's counters live (kept across reloads); a private set when absent */
  stats?: Stats | undefined;
}

/** This thread's share of `total` connections. */
export function connectionShare(total: number, share: { index: number; of: number } | undefined): number {
  if (share === undefined || share.of <= 1) return total;
  const base = Math.floor(total / share.of);
  return Math.max(1, base + (share.index < total % share.of ? 1 : 0));
}

export class Upstreams {
  private readonly upstreams = new Map<string, Upstream>();
  private readonly checks = new Map<string, ActiveHealth>();
  /** who may tell us the client's address (the access log reads it too) */
  readonly trust: Trust;

  /** Throws (a TypeError naming the config path) on what the schema cannot check. */
  constructor(config: Config, opts: UpstreamsOptions) {
    const log = opts.logs.error;
    const stats = opts.stats ?? new Stats();
    this.trust = new Trust(config.trusted_proxies);
    for (const [name, cfg] of Object.entries(config.upstreams)) {
      const events: PeerEvents = {
        onStateChange(peer: Peer, down: boolean, why: string) {
          const fields = { upstream: name, server: peer.address, why };
          if (down) log.warn(fields, `upstream ${name}: server ${peer.address} marked down`);
          else log.info(fields, `upstream ${name}: server ${peer.address} back up`);
        },
      };
      const r = opts.region;
      const health = (i: number) => ({
        fails: r.gauge(names.fails(name, i)),
        firstFail: r.stamp(names.firstFail(name, i)),
        downUntil: r.stamp(names.downUntil(name, i)),
      });
      const up = new Upstream(
        name,
        cfg,
        this.trust,
        events,
        health,
        connectionShare(cfg.connections, opts.share),
        (server) => stats.peer(name, server),
      );
      this.upstreams.set(name, up);
      if (cfg.health.active !== undefined) {
        this.checks.set(name, new ActiveHealth(up.peers, cfg.health.active, events));
      }
    }
    for (const c of this.checks.values()) c.start();
  }

  /** The track function for a `proxy:` route. */
  route(route: ProxyRouteConfig, where: string): RunFn {
    const up = this.upstreams.get(route.proxy);
    // The config loader checks this reference; a hand-built config might not have.
    if (up === undefined) throw new TypeError(`${where}.proxy: unknown upstream "${route.proxy}"`);
    const run: RunFn = new ProxyRoute(route, where, up, this.trust).run;
    run.websocket = new WsProxyRoute(route, where, up, this.trust).run;
    return run;
  }

  /** Every server's counters with `up` set from this table's health view (scrape time). */
  refreshPeers(): void {
    const now = performance.now();
    for (const up of this.upstreams.values()) for (const p of up.peers) p.stats.up = p.available(now);
  }

  /** Every server of every upstream, for the status page. */
  peers(): PeerStats[] {
    const out: PeerStats[] = [];
    for (const up of this.upstreams.values()) for (const p of up.peers) out.push(p.stats);
    return out;
  }

  /** An upstream for handlers (routes/first.ts): the origin and pool of its first server. */
  handle(name: string): UpstreamHandle | undefined {
    return this.upstreams.get(name);
  }

  async close(): Promise<void> {
    await Promise.all([...this.checks.values()].map((c) => c.stop()));
    await Promise.all([...this.upstreams.values()].map((u) => u.close()));
  }
}

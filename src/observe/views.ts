/**
 * The scrape-time views of a server: the Prometheus exposition and the status page's JSON. Both
 * read the counters (metrics.ts) and a few gauges at the moment they are asked; the Prometheus
 * registry (and its event-loop monitor) is built on the first scrape, so a server without a
 * metrics route pays nothing for it.
 */
import type { PoolStats } from '../pool/stats.js';
import type { Views } from '../services.js';
import { openConnections } from './connections.js';
import type { PeerStats, Stats } from './metrics.js';
import type { Readiness } from './probes.js';
import { Prometheus } from './prometheus.js';

/** What the views read from the server (an interface, so observe/ imports nothing above it). */
export interface ViewSource {
  readonly services: { stats: Stats };
  readonly pipeline: {
    readonly inflight: { readonly size: number };
    readonly routes: { services: { upstreams: { refreshPeers(): void; peers(): PeerStats[] } } };
  };
  /** undefined in an acceptor thread (the supervisor's pool runs its jobs) */
  readonly pool: { stats(): PoolStats } | undefined;
  readonly readiness: Readiness;
  httpPorts(): Set<number>;
  tcpConnections(): number;
}

const ms = (seconds: number) => Math.round(seconds * 1e6) / 1000;
const STARTED = Date.now();

export class ServerViews implements Views {
  private source: ViewSource | undefined = undefined;
  private prom: Prometheus | undefined = undefined;

  /** The server, once built (the views exist before it: route tables capture them at compile). */
  attach(src: ViewSource): void {
    this.source = src;
  }

  private get src(): ViewSource {
    if (this.source === undefined) throw new Error('views: no server attached');
    return this.source;
  }

  private connections(): number | undefined {
    const http = openConnections(this.src.httpPorts());
    return http === undefined ? undefined : http + this.src.tcpConnections();
  }

  async metrics(): Promise<{ type: string; text: string }> {
    const src = this.src;
    this.prom ??= new Prometheus({
      stats: src.services.stats,
      inflight: () => src.pipeline.inflight.size,
      connections: () => this.connections(),
      pool: () => src.pool?.stats(),
      refreshPeers: () => src.pipeline.routes.services.upstreams.refreshPeers(),
    });
    return { type: this.prom.contentType, text: await this.prom.text() };
  }

  status(): StatusSnapshot {
    const src = this.src;
    const ups = src.pipeline.routes.services.upstreams;
    ups.refreshPeers();
    const routes: StatusSnapshot['routes'] = [];
    for (const r of src.services.stats.routes()) {
      const c = r.classes;
      routes.push({
        route: r.route,
        track: r.track,
        requests: r.duration.count,
        status: { '1xx': c[1]!, '2xx': c[2]!, '3xx': c[3]!, '4xx': c[4]!, '5xx': c[5]!, none: c[0]! },
        p50_ms: ms(r.duration.quantile(0.5)),
        p90_ms: ms(r.duration.quantile(0.9)),
        p99_ms: ms(r.duration.quantile(0.99)),
      });
    }
    const mem = process.memoryUsage();
    return {
      time: Date.now(),
      uptime_s: Math.round((Date.now() - STARTED) / 1000),
      pid: process.pid,
      state: src.readiness.state,
      in_flight: src.pipeline.inflight.size,
      connections: this.connections() ?? null,
      rss_bytes: mem.rss,
      routes,
      upstreams: ups.peers().map((p) => ({
        upstream: p.upstream,
        server: p.server,
        up: p.up,
        requests: p.requests,
        errors: p.errors,
        retries: p.retries,
        p50_ms: ms(p.head.quantile(0.5)),
        p99_ms: ms(p.head.quantile(0.99)),
      })),
      pool: src.pool?.stats() ?? null,
    };
  }
}

/** The status page's JSON (stable field names; the page and tests read them). */
export interface StatusSnapshot {
  /** ms since the epoch (the page divides request deltas by time deltas for req/s) */
  time: number;
  uptime_s: number;
  pid: number;
  state: Readiness['state'];
  in_flight: number;
  connections: number | null;
  rss_bytes: number;
  /** durations are estimated from the histogram buckets */
  routes: {
    route: string;
    track: string;
    requests: number;
    status: Record<'1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'none', number>;
    p50_ms: number;
    p90_ms: number;
    p99_ms: number;
  }[];
  upstreams: {
    upstream: string;
    server: string;
    up: boolean;
    requests: number;
    errors: number;
    retries: number;
    p50_ms: number;
    p99_ms: number;
  }[];
  /** null in an acceptor thread */
  pool: PoolStats | null;
}

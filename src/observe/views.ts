/**
 * The scrape-time views of a server: the Prometheus exposition and the status page's JSON. Both
 * read the counters (metrics.ts) and a few gauges at the moment they are asked; the Prometheus
 * registry (and its event-loop monitor) is built on the first scrape, so a server without a
 * metrics route pays nothing for it.
 */
import type { PoolStats } from '../pool/stats.js';
import type { Views } from '../services.js';
import { openConnections } from './connections.js';
import { type PeerStats, Stats, type StatsSnapshot } from './metrics.js';
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

/** Every acceptor thread's records and requests in flight (the supervisor collects them). */
export type Gather = () => Promise<{ snaps: StatsSnapshot[]; inflight: number }>;
/** An acceptor thread's scrape, answered by the supervisor for the whole process. */
export type Remote = (kind: 'metrics' | 'status') => Promise<unknown>;

export class ServerViews implements Views {
  private source: ViewSource | undefined = undefined;
  private prom: Prometheus | undefined = undefined;
  /** main thread with acceptor threads: the sum of theirs, refilled at every scrape */
  private gather: Gather | undefined = undefined;
  private readonly summed = new Stats();
  private summedInflight = 0;
  private summedThreads = 1;
  private remote: Remote | undefined = undefined;

  /** The server, once built (the views exist before it: route tables capture them at compile). */
  attach(src: ViewSource): void {
    this.source = src;
  }

  /** Main thread with acceptor threads: every scrape reads the sum of the threads' records. */
  gatherFrom(gather: Gather): void {
    this.gather = gather;
  }

  /** Acceptor thread: every scrape is answered by the supervisor (one view of the process). */
  delegateTo(remote: Remote): void {
    this.remote = remote;
  }

  /** With acceptor threads: sum their records now. */
  private async refresh(): Promise<void> {
    if (this.gather === undefined) return;
    const { snaps, inflight } = await this.gather();
    this.summed.clear();
    for (const snap of snaps) this.summed.absorb(snap);
    this.summedInflight = inflight;
    this.summedThreads = snaps.length;
  }

  private get stats(): Stats {
    return this.gather === undefined ? this.src.services.stats : this.summed;
  }

  private inflight(): number {
    return this.gather === undefined ? this.src.pipeline.inflight.size : this.summedInflight;
  }

  /** The current table's upstream servers, with `up` as its health view (or the threads') says. */
  private peers(): PeerStats[] {
    const ups = this.src.pipeline.routes.services.upstreams;
    if (this.gather === undefined) {
      ups.refreshPeers();
      return ups.peers();
    }
    return ups.peers().map((p) => this.summed.peer(p.upstream, p.server));
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
    if (this.remote !== undefined) return (await this.remote('metrics')) as { type: string; text: string };
    const src = this.src;
    await this.refresh();
    this.prom ??= new Prometheus({
      stats: this.stats,
      inflight: () => this.inflight(),
      connections: () => this.connections(),
      pool: () => src.pool?.stats(),
      refreshPeers: () => {
        if (this.gather === undefined) src.pipeline.routes.services.upstreams.refreshPeers();
      },
    });
    return { type: this.prom.contentType, text: await this.prom.text() };
  }

  async status(): Promise<StatusSnapshot> {
    if (this.remote !== undefined) return (await this.remote('status')) as StatusSnapshot;
    const src = this.src;
    await this.refresh();
    const routes: StatusSnapshot['routes'] = [];
    for (const r of this.stats.routes()) {
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
      in_flight: this.inflight(),
      threads: this.gather === undefined ? 1 : this.summedThreads,
      connections: this.connections() ?? null,
      rss_bytes: mem.rss,
      routes,
      upstreams: this.peers().map((p) => ({
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
  /** acceptor threads that answered this snapshot (1 without `threads`) */
  threads: number;
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

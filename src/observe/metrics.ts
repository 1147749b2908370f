/**
 * Request and upstream counters: small fixed-layout records, bound to each route and each
 * upstream server when a route table is compiled, and bumped with a few array writes per request
 * (no label hashing on the hot path; prom-client's `labels().inc()` hashes its labels on every
 * call). The Prometheus exposition (prometheus.ts) and the status page read them at scrape time.
 *
 * A record is keyed by what it counts (route path + track; upstream + server address) and is kept
 * across reloads, so counters never go backwards while the process lives.
 *
 * Threads: every record is plain numbers in typed arrays. With acceptor threads, each thread keeps
 * its own records; a scrape in any thread asks the supervisor, which collects every thread's
 * `snapshot()` and sums them (`absorb`): one view of the process, not one per thread
 * (test/ops/threads-view.test.ts). Nothing here reads a clock or allocates per request.
 */

/** Upper bounds (seconds) of the request and upstream duration histograms. */
export const BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
];
const LAST = BUCKETS.length;

/** Index of the first bucket whose bound is ≥ seconds (LAST = +Inf). */
function bucketOf(seconds: number): number {
  let i = 0;
  while (i < LAST && seconds > BUCKETS[i]!) i++;
  return i;
}

/** A histogram as plain numbers (what an acceptor thread posts to the supervisor). */
export interface HistoSnapshot {
  counts: number[];
  sum: number;
  count: number;
}

/** A duration histogram: per-bucket counts (not cumulative), sum and count. */
export class Histo {
  readonly counts = new Float64Array(LAST + 1);
  sum = 0;
  count = 0;

  snapshot(): HistoSnapshot {
    return { counts: Array.from(this.counts), sum: this.sum, count: this.count };
  }

  /** Add another thread's counts to these. */
  add(h: HistoSnapshot): void {
    for (let i = 0; i <= LAST; i++) this.counts[i]! += h.counts[i] ?? 0;
    this.sum += h.sum;
    this.count += h.count;
  }

  clear(): void {
    this.counts.fill(0);
    this.sum = 0;
    this.count = 0;
  }

  observe(seconds: number): void {
    this.counts[bucketOf(seconds)]!++;
    this.sum += seconds;
    this.count++;
  }

  /** The q-quantile (0..1) estimated from the buckets (linear within a bucket), in seconds. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = q * this.count;
    let seen = 0;
    for (let i = 0; i <= LAST; i++) {
      const c = this.counts[i]!;
      if (seen + c >= rank && c > 0) {
        const lo = i === 0 ? 0 : BUCKETS[i - 1]!;
        const hi = i === LAST ? BUCKETS[LAST - 1]! : BUCKETS[i]!;
        return lo + (hi - lo) * ((rank - seen) / c);
      }
      seen += c;
    }
    return BUCKETS[LAST - 1]!;
  }
}

/** One route's requests: by status class, and their durations. */
export class RouteStats {
  readonly route: string;
  readonly track: string;
  /** index = status / 100: [0] no status (closed before any), [1]..[5] = 1xx..5xx */
  readonly classes = new Float64Array(6);
  readonly duration = new Histo();

  constructor(route: string, track: string) {
    this.route = route;
    this.track = track;
  }

  record(status: number, seconds: number): void {
    this.classes[status >= 100 && status < 600 ? (status / 100) | 0 : 0]!++;
    this.duration.observe(seconds);
  }
}

/** One upstream server's attempts (kept by the process; the Peer of each table points here). */
export class PeerStats {
  readonly upstream: string;
  readonly server: string;
  /** attempts started */
  requests = 0;
  /** attempts that failed (connect, reset, timeout, malformed) */
  errors = 0;
  /** attempts that were retries of an earlier one for the same request */
  retries = 0;
  /** time to the response head of successful attempts */
  readonly head = new Histo();
  /** the server's health as last seen by its table (set at scrape time) */
  up = true;

  constructor(upstream: string, server: string) {
    this.upstream = upstream;
    this.server = server;
  }
}

/** Every record of one thread, as plain numbers. */
export interface StatsSnapshot {
  routes: { route: string; track: string; classes: number[]; duration: HistoSnapshot }[];
  peers: {
    upstream: string;
    server: string;
    requests: number;
    errors: number;
    retries: number;
    up: boolean;
    head: HistoSnapshot;
  }[];
}

/** Every record of the process (of one thread, with acceptor threads: see `absorb`). */
export class Stats {
  private readonly routeMap = new Map<string, RouteStats>();
  private readonly peerMap = new Map<string, PeerStats>();

  /** The record of a route (the same one across reloads while path and track stay the same). */
  route(route: string, track: string): RouteStats {
    const key = `${track}\0${route}`;
    let r = this.routeMap.get(key);
    if (r === undefined) this.routeMap.set(key, (r = new RouteStats(route, track)));
    return r;
  }

  /** The record of an upstream server. */
  peer(upstream: string, server: string): PeerStats {
    const key = `${upstream}\0${server}`;
    let p = this.peerMap.get(key);
    if (p === undefined) this.peerMap.set(key, (p = new PeerStats(upstream, server)));
    return p;
  }

  routes(): IterableIterator<RouteStats> {
    return this.routeMap.values();
  }

  peers(): IterableIterator<PeerStats> {
    return this.peerMap.values();
  }

  snapshot(): StatsSnapshot {
    return {
      routes: [...this.routes()].map((r) => ({
        route: r.route,
        track: r.track,
        classes: Array.from(r.classes),
        duration: r.duration.snapshot(),
      })),
      peers: [...this.peers()].map((p) => ({
        upstream: p.upstream,
        server: p.server,
        requests: p.requests,
        errors: p.errors,
        retries: p.retries,
        up: p.up,
        head: p.head.snapshot(),
      })),
    };
  }

  /** Zero every record (before summing the threads' snapshots into them again). */
  clear(): void {
    for (const r of this.routes()) {
      r.classes.fill(0);
      r.duration.clear();
    }
    for (const p of this.peers()) {
      p.requests = p.errors = p.retries = 0;
      p.head.clear();
      p.up = true;
    }
  }

  /** Add one thread's records to these; a server is up only if every thread sees it up. */
  absorb(snap: StatsSnapshot): void {
    for (const x of snap.routes) {
      const r = this.route(x.route, x.track);
      for (let i = 0; i < 6; i++) r.classes[i]! += x.classes[i] ?? 0;
      r.duration.add(x.duration);
    }
    for (const x of snap.peers) {
      const p = this.peer(x.upstream, x.server);
      p.requests += x.requests;
      p.errors += x.errors;
      p.retries += x.retries;
      p.up &&= x.up;
      p.head.add(x.head);
    }
  }
}

/**
 * Request and upstream counters: small fixed-layout records, bound to each route and each
 * upstream server when a route table is compiled, and bumped with a few array writes per request
 * (no label hashing on the hot path; prom-client's `labels().inc()` hashes its labels on every
 * call). The Prometheus exposition (prometheus.ts) and the status page read them at scrape time.
 *
 * A record is keyed by what it counts (route path + track; upstream + server address) and is kept
 * across reloads, so counters never go backwards while the process lives.
 *
 * Threads: every record is plain numbers in typed arrays. With acceptor threads, each thread gets
 * its own records (or a slice of a SharedArrayBuffer) and the main thread sums them at scrape
 * time: one view, not one per thread. Nothing here reads a clock or allocates per request.
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

/** A duration histogram: per-bucket counts (not cumulative), sum and count. */
export class Histo {
  readonly counts = new Float64Array(LAST + 1);
  sum = 0;
  count = 0;

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

/** Every record of the process. */
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
}

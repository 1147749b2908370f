/**
 * One server of an upstream: its keep-alive undici Pool, its load (requests in flight, for
 * least-conn and random-two) and its health.
 *
 * Health has two independent inputs, and a peer is available only when both allow it:
 * - passive (nginx `max_fails` / `fail_timeout`): `max_fails` failed attempts within
 *   `fail_timeout` mark the peer down for `fail_timeout`; a success clears the count. `max_fails: 0`
 *   turns it off. What counts as a failure is decided in failure.ts (connect errors, timeouts,
 *   resets, malformed responses; never a client that went away).
 * - active (health.ts): `fall` failed probes in a row mark it down, `rise` good ones bring it back.
 *
 * When every peer of an upstream is down the balancer tries them anyway (panic, see upstream.ts).
 *
 * Passive health is shared by every acceptor thread: the failure count, the first failure's time
 * and "down until" live in the route table's shared region (`PeerHealth`), so a server marked
 * down by one thread is skipped by all from their next request. Races: the thread whose failure
 * reaches `max_fails` and wins the CAS that resets the count marks the peer down (and logs it,
 * once); two threads resetting the window at once may each lose the other's one count.
 */
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';
import type { PeerStats } from '../observe/metrics.js';
import type { Gauge, Stamp } from '../region/cells.js';
import { toShared } from '../region/clock.js';

export interface PeerEvents {
  /** a peer changed state (for the error log) */
  onStateChange(peer: Peer, down: boolean, why: string): void;
}

/** A peer's passive-health words in shared memory (times on the shared clock, src/region/clock.ts). */
export interface PeerHealth {
  fails: Gauge;
  firstFail: Stamp;
  downUntil: Stamp;
}

export class Peer {
  /** `http://host:port` */
  readonly origin: string;
  /** `host:port`, as the access log shows it */
  readonly address: string;
  readonly weight: number;
  readonly backup: boolean;
  readonly pool: Pool;
  /** index in its upstream's server list (stable; the balancers key on it) */
  readonly index: number;
  /** requests in flight on this peer */
  active = 0;
  /** attempts, errors, retries and head times (the process's record for this server) */
  readonly stats: PeerStats;

  // passive health
  private readonly maxFails: number;
  private readonly failTimeout: number;
  private readonly health: PeerHealth;
  /** marked down by active health checks */
  activeDown = false;
  private readonly events: PeerEvents;

  constructor(
    server: UpstreamConfig['servers'][number],
    index: number,
    up: UpstreamConfig,
    events: PeerEvents,
    health: PeerHealth,
    statsOf: (address: string) => PeerStats,
    /** this thread's connection cap to the server (its share of `connections`) */
    connections: number = up.connections,
  ) {
    this.health = health;
    const url = new URL(server.url);
    this.origin = url.origin;
    this.address = url.port === '' ? `${url.hostname}:${url.protocol === 'https:' ? 443 : 80}` : url.host;
    this.stats = statsOf(this.address);
    this.weight = server.weight;
    this.backup = server.backup;
    this.index = index;
    this.maxFails = up.health.max_fails;
    this.failTimeout = up.health.fail_timeout;
    this.events = events;
    this.pool = new Pool(this.origin, {
      connections,
      pipelining: 1,
      // Our idle keep-alive must end before the upstream's own, or a request meets a socket the
      // upstream is closing ("other side closed"; docs/undici.md). A `Keep-Alive: timeout=N` hint from
      // the upstream lowers it further (minus a 1 s margin).
      keepAliveTimeout: up.keepalive,
      keepAliveMaxTimeout: up.keepalive,
      keepAliveTimeoutThreshold: 1000,
      connectTimeout: up.timeouts.connect,
      // undici runs these two on its coarse "fast timers" (a 0.5 s tick): a value below a second
      // fires after 0.5-1 s (measured: `headers: 150ms` gave 504 after 0.87-1.0 s). Cheap per
      // request; precise enough for the usual seconds-long settings.
      headersTimeout: up.timeouts.headers,
      bodyTimeout: up.timeouts.idle,
      // We send exactly the Content-Length the client declared; a mismatch is an error, not a warning.
      strictContentLength: true,
    });
  }

  /** Usable now, as far as health goes. `now`: performance.now(). */
  available(now: number): boolean {
    return !this.activeDown && this.health.downUntil.value <= toShared(now);
  }

  /** A failed attempt (failure.ts decides what counts). */
  failed(now: number, why: string): void {
    if (this.maxFails === 0) return;
    const t = toShared(now);
    const h = this.health;
    if (t - h.firstFail.value > this.failTimeout) {
      h.fails.set(0);
      h.firstFail.value = t;
    }
    const n = h.fails.add(1);
    if (n >= this.maxFails && h.downUntil.value <= t && h.fails.cas(n, 0)) {
      h.downUntil.value = t + this.failTimeout;
      this.events.onStateChange(this, true, why);
    }
  }

  /** A response arrived: the peer works. Writes shared memory only when there is something to clear. */
  succeeded(): void {
    const h = this.health;
    if (h.fails.value !== 0) h.fails.set(0);
    const until = h.downUntil.value;
    if (until !== 0) {
      // It answered while marked down (panic mode): take it back now rather than at the deadline.
      h.downUntil.value = 0;
      if (until > toShared(performance.now())) this.events.onStateChange(this, false, 'answered');
    }
  }
}

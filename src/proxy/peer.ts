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
 */
import { Pool } from 'undici';
import type { UpstreamConfig } from '../config/schema.js';

export interface PeerEvents {
  /** a peer changed state (for the error log) */
  onStateChange(peer: Peer, down: boolean, why: string): void;
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

  // passive health
  private readonly maxFails: number;
  private readonly failTimeout: number;
  private fails = 0;
  private firstFailAt = 0;
  /** performance.now() until which the peer is down (passive) */
  private downUntil = 0;
  /** marked down by active health checks */
  activeDown = false;
  private readonly events: PeerEvents;

  constructor(
    server: UpstreamConfig['servers'][number],
    index: number,
    up: UpstreamConfig,
    events: PeerEvents,
  ) {
    const url = new URL(server.url);
    this.origin = url.origin;
    this.address = url.port === '' ? `${url.hostname}:${url.protocol === 'https:' ? 443 : 80}` : url.host;
    this.weight = server.weight;
    this.backup = server.backup;
    this.index = index;
    this.maxFails = up.health.max_fails;
    this.failTimeout = up.health.fail_timeout;
    this.events = events;
    this.pool = new Pool(this.origin, {
      connections: up.connections,
      pipelining: 1,
      // Our idle keep-alive must end before the upstream's own, or a request meets a socket the
      // upstream is closing ("other side closed"; platform.md). A `Keep-Alive: timeout=N` hint from
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

  /** Usable now, as far as health goes. */
  available(now: number): boolean {
    return !this.activeDown && this.downUntil <= now;
  }

  /** A failed attempt (failure.ts decides what counts). */
  failed(now: number, why: string): void {
    if (this.maxFails === 0) return;
    if (now - this.firstFailAt > this.failTimeout) {
      this.fails = 0;
      this.firstFailAt = now;
    }
    if (++this.fails >= this.maxFails && this.downUntil <= now) {
      this.downUntil = now + this.failTimeout;
      this.fails = 0;
      this.events.onStateChange(this, true, why);
    }
  }

  /** A response arrived: the peer works. */
  succeeded(): void {
    this.fails = 0;
    if (this.downUntil !== 0) {
      // It answered while marked down (panic mode): take it back now rather than at the deadline.
      const wasDown = this.downUntil > performance.now();
      this.downUntil = 0;
      if (wasDown) this.events.onStateChange(this, false, 'answered');
    }
  }
}

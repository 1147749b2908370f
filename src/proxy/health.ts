/**
 * Active health checks (`health.active` on an upstream): every `interval`, a `GET path` to each
 * server through its own pool, answered within `timeout` with one of the expected statuses.
 * `fall` failures in a row mark the server down, `rise` successes in a row bring it back; the
 * first round runs at start-up. A round is skipped while the previous one is still running.
 *
 * Passive health (peer.ts) works alongside: a server is available only when neither marks it down.
 * Timers are unref()ed: health checks never keep the process alive.
 */
import type { UpstreamConfig } from '../config/schema.js';
import type { Peer, PeerEvents } from './peer.js';

const NOOP = (): void => {};

type ActiveConfig = NonNullable<UpstreamConfig['health']['active']>;

interface Streak {
  ok: number;
  bad: number;
}

export class ActiveHealth {
  private readonly peers: readonly Peer[];
  private readonly cfg: ActiveConfig;
  private readonly statuses: ReadonlySet<number>;
  private readonly events: PeerEvents;
  private readonly streaks: Streak[];
  private timer: NodeJS.Timeout | undefined = undefined;
  private round: Promise<void> | undefined = undefined;
  private stopped = false;
  private readonly inflight = new Set<AbortController>();

  constructor(peers: readonly Peer[], cfg: ActiveConfig, events: PeerEvents) {
    this.peers = peers;
    this.cfg = cfg;
    this.statuses = new Set(Array.isArray(cfg.status) ? cfg.status : [cfg.status]);
    this.events = events;
    this.streaks = peers.map(() => ({ ok: 0, bad: 0 }));
  }

  start(): void {
    this.tick();
    this.timer = setInterval(() => this.tick(), this.cfg.interval);
    this.timer.unref();
  }

  /** Stop the timer and abort probes in flight; resolves when the current round has ended. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearInterval(this.timer);
    for (const c of this.inflight) c.abort();
    await this.round;
  }

  /** One round now, unless one is running. */
  tick(): Promise<void> {
    if (this.round === undefined && !this.stopped) {
      this.round = Promise.all(this.peers.map((p, i) => this.probe(p, i))).then(() => {
        this.round = undefined;
      });
    }
    return this.round ?? Promise.resolve();
  }

  private async probe(peer: Peer, i: number): Promise<void> {
    const ac = new AbortController();
    this.inflight.add(ac);
    const timer = setTimeout(() => ac.abort(), this.cfg.timeout);
    let ok = false;
    try {
      const res = await peer.pool.request({
        path: this.cfg.path,
        method: 'GET',
        signal: ac.signal,
        headers: { 'user-agent': 'switchyard-health' },
      });
      // An aborted undici body emits 'error'; unhandled, it ends the process (docs/undici.md).
      res.body.on('error', NOOP);
      ok = this.statuses.has(res.statusCode);
      await res.body.dump({ limit: 64 * 1024, signal: ac.signal });
    } catch {
      ok = false;
    } finally {
      clearTimeout(timer);
      this.inflight.delete(ac);
    }
    if (this.stopped) return;
    this.record(peer, this.streaks[i]!, ok);
  }

  private record(peer: Peer, s: Streak, ok: boolean): void {
    if (ok) {
      s.bad = 0;
      if (++s.ok >= this.cfg.rise && peer.activeDown) {
        peer.activeDown = false;
        this.events.onStateChange(peer, false, `health check passed ${s.ok} times`);
      }
    } else {
      s.ok = 0;
      if (++s.bad >= this.cfg.fall && !peer.activeDown) {
        peer.activeDown = true;
        this.events.onStateChange(peer, true, `health check failed ${s.bad} times`);
      }
    }
  }
}

/**
 * Dead-peer detection for WebSockets (WsLimits.ping): one interval per distinct period, shared by
 * every connection with that period, so an idle connection costs a Set entry, not a timer. Each
 * tick: a connection heard from since the last tick is fine; one silent for a whole period is
 * pinged; one still silent a period later is cut. A live client (browsers and `ws` answer pings)
 * is never cut however long it stays quiet (test/websocket/limits.test.ts "ping").
 */

export interface Beat {
  /** set by the engine whenever anything (message, ping, pong) arrives from the peer */
  heard: boolean;
  pinged: boolean;
  ping(): void;
  cut(): void;
}

interface Group {
  readonly beats: Set<Beat>;
  readonly timer: NodeJS.Timeout;
}

export class Heartbeats {
  private readonly groups = new Map<number, Group>();

  add(period: number, b: Beat): void {
    let g = this.groups.get(period);
    if (g === undefined) {
      const beats = new Set<Beat>();
      const timer = setInterval(() => Heartbeats.tick(beats), period);
      timer.unref();
      this.groups.set(period, (g = { beats, timer }));
    }
    g.beats.add(b);
  }

  remove(period: number, b: Beat): void {
    const g = this.groups.get(period);
    if (g === undefined || !g.beats.delete(b) || g.beats.size !== 0) return;
    clearInterval(g.timer);
    this.groups.delete(period);
  }

  private static tick(beats: Set<Beat>): void {
    for (const b of beats) {
      if (b.heard) {
        b.heard = false;
        b.pinged = false;
      } else if (!b.pinged) {
        b.pinged = true;
        b.ping();
      } else {
        b.cut(); // removes itself from `beats` (safe during iteration)
      }
    }
  }
}

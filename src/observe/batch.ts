/**
 * Access-log lines gathered per event-loop turn and handed to the destination as one write.
 *
 * pino's destination (SonicBoom) measures the UTF-8 length of its whole pending buffer — up to
 * 16 KiB — on every `write`, so one line cost several microseconds under load (a CPU profile of
 * the hello handler with the access log on: a fifth of the busy time in pino and SonicBoom,
 * docs/performance.md). Here a line is one array push; at the end of the turn the lines are joined
 * and SonicBoom gets one string, so its batching, periodic flush, error handling and reopening
 * stay as they are. Order is kept. `handOver()` gives SonicBoom what is gathered now: log.ts calls
 * it before a flush, a reopen (rotation: lines before it go to the old file) and the close.
 */
import type { DestinationStream } from 'pino';

export class TurnBatch implements DestinationStream {
  private parts: string[] = [];
  private scheduled = false;
  private readonly dest: DestinationStream;

  constructor(dest: DestinationStream) {
    this.dest = dest;
  }

  write(line: string): void {
    this.parts.push(line);
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(this.turnEnded);
    }
  }

  private readonly turnEnded = (): void => {
    this.scheduled = false;
    this.handOver();
  };

  handOver(): void {
    const p = this.parts;
    if (p.length === 0) return;
    this.parts = [];
    this.dest.write(p.length === 1 ? p[0]! : p.join(''));
  }
}

let lastMs = -1;
let lastStamp = '';

/**
 * pino's `timestamp` option: `,"time":"<ISO 8601>"`, formatted once per millisecond (pino's
 * `isoTime` builds a Date and its ISO string for every line).
 */
export function isoTimeCached(): string {
  const now = Date.now();
  if (now !== lastMs) {
    lastMs = now;
    lastStamp = `,"time":"${new Date(now).toISOString()}"`;
  }
  return lastStamp;
}

/**
 * Access-log lines gathered per event-loop turn and written as bytes into a chunk that is handed to
 * the destination (SonicBoom in buffer mode) once `minLength` bytes are held (then the destination
 * is asked to write: `flush`), when the flush period passes, and on `handOver()`.
 *
 * Why bytes: given strings, SonicBoom measures the UTF-8 length of its whole pending buffer on
 * every write (flattening it each time), encodes it for `fs.write` and encodes it again to account
 * for what was written (docs/performance.md). Here a line is one array push; at the end of the turn
 * the lines are joined and encoded once into the chunk; SonicBoom gets a view of those bytes and
 * keeps its writing, error handling, reopening and synchronous flush as they are. A chunk's bytes
 * are never written again once handed over: the next bytes go after them, or into a new chunk.
 * Order is kept. log.ts calls `handOver()` before a flush, a reopen (rotation: lines before it go
 * to the old file) and the close.
 */
import type { DestinationStream } from 'pino';

/** Where the bytes go: SonicBoom with `contentMode: 'buffer'` (or a test's sink). */
export interface ByteSink {
  write(bytes: Buffer): unknown;
  /** write out what it holds, asynchronously (SonicBoom's `flush`) */
  flush?(): unknown;
}

/** Bytes per chunk: twice the file destination's write size, so a chunk holds one whole write. */
const CHUNK = 64 * 1024;
/** A chunk with less room than this after a hand-over is replaced by a new one. */
const LOW = 8 * 1024;

export class TurnBatch implements DestinationStream {
  private parts: string[] = [];
  private scheduled = false;
  private chunk = Buffer.allocUnsafeSlow(CHUNK);
  /** the chunk's bytes [start, end) are held; before `start` they belong to the destination */
  private start = 0;
  private end = 0;
  private readonly dest: ByteSink;
  private readonly minLength: number;
  private readonly timer: NodeJS.Timeout | undefined;

  /**
   * `minLength`: hand over once this many bytes are held (0: every turn). `flushMs`: hand over
   * what is held at least this often (0: no timer).
   */
  constructor(dest: ByteSink, opts: { minLength?: number; flushMs?: number } = {}) {
    this.dest = dest;
    this.minLength = opts.minLength ?? 0;
    const every = opts.flushMs ?? 0;
    this.timer = every > 0 ? setInterval(this.periodic, every).unref() : undefined;
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
    this.gather();
    if (this.end - this.start >= this.minLength) {
      this.release();
      if (this.minLength > 0) this.kick();
    }
  };

  /** Ask the destination to write what it holds now. */
  private kick(): void {
    try {
      this.dest.flush?.();
    } catch {
      // a destination already closed: nothing left to write
    }
  }

  /** The lines written so far, encoded into the chunk (or handed over whole when they are large). */
  private gather(): void {
    const p = this.parts;
    if (p.length === 0) return;
    this.parts = [];
    const s = p.length === 1 ? p[0]! : p.join('');
    // At most 3 UTF-8 bytes per UTF-16 unit; near the chunk's end the exact length decides.
    if (s.length * 3 > CHUNK - this.end && Buffer.byteLength(s, 'utf8') > CHUNK - this.end) {
      this.release(true);
      if (Buffer.byteLength(s, 'utf8') > CHUNK) {
        this.dest.write(Buffer.from(s, 'utf8'));
        return;
      }
    }
    this.end += this.chunk.write(s, this.end);
  }

  /**
   * Hand the held bytes to the destination. A new chunk follows when this one has less room left
   * than `minLength` (or than `LOW`), or when `full`: a file's chunk is written whole, 32 KiB or
   * more, and never refilled.
   */
  private release(full = false): void {
    if (this.end > this.start) {
      this.dest.write(this.chunk.subarray(this.start, this.end));
      this.start = this.end;
    }
    if (full || CHUNK - this.end < Math.max(LOW, this.minLength)) {
      this.chunk = Buffer.allocUnsafeSlow(CHUNK);
      this.start = this.end = 0;
    }
  }

  private readonly periodic = (): void => {
    if (this.parts.length === 0 && this.end === this.start) return;
    this.handOver();
    this.kick();
  };

  /** Give the destination everything written so far. */
  handOver(): void {
    this.gather();
    this.release();
  }

  /** Hand over what is held and stop the flush timer. */
  close(): void {
    this.handOver();
    if (this.timer !== undefined) clearInterval(this.timer);
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

/**
 * One connection of the TCP line-protocol listener (see tcp.ts for the protocol).
 *
 * Lines are read in order, each valid one starts its job at once (several run in parallel on the
 * pool), and the answers are written strictly in line order: a queue of slots, the head written
 * as soon as it is answered. Everything happens in `pump()`, the one place that reads lines,
 * writes answers and decides whether to keep reading, so that nothing recurses.
 *
 * Limits: at most `MAX_PENDING` lines of one connection are in flight; beyond that we stop
 * reading (the client's sends block on TCP flow control, nothing is refused). The same when the
 * client does not read its answers (our writes back up). A line over `MAX_LINE_BYTES` answers
 * `Error: Line too long` after the earlier lines' answers and closes the connection; what the
 * client sends after it is read and discarded, so that the close is a FIN, not an RST that
 * could destroy the error line in flight.
 *
 * End of input (the client half-closes, as `nc` does when its stdin ends) means "no more lines":
 * the lines already received — and a last one without its `\n` — are answered in order, then we
 * close. Cancellation: the connection owns one AbortController, handed to every job it starts. It
 * aborts on a real disconnect — a reset, a failed write, or the socket closing before its answers
 * are out. TCP cannot tell a client that closed both sides from a half-close: the first answer
 * written to it draws a reset, the next write fails, and its remaining jobs are cancelled then
 * (tests: tcp.test.ts "half-close answers every line", "closed both sides").
 */
import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import { type SwitchyardError, syError } from '../errors.js';
import type { JobPool } from './index.js';
import { JobTiming } from './stats.js';

export const MAX_LINE_BYTES = 1024;
export const MAX_PENDING = 32;

const INTEGER = /^[ \t]*([+-]?[0-9]+)[ \t]*$/;
const INVALID = 'Error: Invalid number\n';
const TOO_LONG = 'Error: Line too long\n';

interface Slot {
  answer: string | undefined;
}

/**
 * A job's result as the text of one answer line: a number or a plain string as it is; a string
 * with a line break (which would end the answer early and shift every later one), or an object,
 * as JSON on one line.
 */
export function resultText(v: unknown): string {
  if (typeof v === 'string') return /[\r\n]/.test(v) ? JSON.stringify(v) : v;
  if (v !== null && typeof v === 'object') {
    try {
      return JSON.stringify(v) ?? String(v);
    } catch {
      return String(v); // a cycle, a BigInt field: still one line
    }
  }
  return String(v);
}

/** The answer line for a failed job. */
function errorLine(err: unknown): string {
  const e = err as SwitchyardError;
  if (e.code === 'SY_ERR_JOB_FAILED') {
    // The job rejected its input (fib: n outside 0..90): RangeError/TypeError survive the
    // structured clone from the worker with their name.
    const name = (e.cause as Error | undefined)?.name;
    return name === 'RangeError' || name === 'TypeError' ? INVALID : 'Error: Job failed\n';
  }
  if (e.code === 'SY_ERR_POOL_FULL') return 'Error: Server busy\n';
  if (e.code === 'SY_ERR_SHUTTING_DOWN') return 'Error: Server shutting down\n';
  return 'Error: Job failed\n';
}

export class LineConnection {
  readonly id: number;
  readonly started = performance.now();
  readonly timing = new JobTiming();
  lines = 0;
  invalid = 0;
  /** why it ended: client-ended (half-close), client-closed, line-too-long, shutdown, aborted, or a socket error code */
  endReason = '';
  private readonly socket: Socket;
  private readonly job: string;
  private readonly pool: JobPool;
  private readonly controller = new AbortController();
  private readonly queue: Slot[] = [];
  private buf = '';
  /** false once we stop taking lines (too long, shutdown, disconnect): data is discarded */
  private reading = true;
  /** the client half-closed: no more data comes, the lines in `buf` are still taken */
  private inputEnded = false;
  /** end the connection once every queued answer is written */
  private endWhenFlushed = false;
  private writeBlocked = false;
  private ended = false;
  /** jobs started and not yet settled, and who waits for that count to reach 0 */
  private jobsInFlight = 0;
  private onSettled: (() => void) | undefined;

  constructor(socket: Socket, id: number, job: string, pool: JobPool, idleMs: number) {
    this.socket = socket;
    this.id = id;
    this.job = job;
    this.pool = pool;
    // piscina adds one abort listener per job in flight on this signal: up to MAX_PENDING.
    setMaxListeners(MAX_PENDING + 8, this.controller.signal);
    socket.setNoDelay(true);
    // latin1: one char per byte, so lengths are byte counts; valid lines are ASCII anyway.
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      if (!this.reading) return;
      this.buf += chunk;
      this.pump();
    });
    socket.on('drain', () => {
      this.writeBlocked = false;
      this.pump();
    });
    // The listener sets allowHalfOpen: our side stays writable until pump() ends it.
    socket.on('end', () => this.endOfInput());
    // An idle client (no line, nothing in flight) must not hold a connection forever.
    if (idleMs > 0) {
      // `on`, not setTimeout's callback (a `once` listener): the timer can fire while a job is
      // running, and the connection must still be timed out once it goes quiet afterwards.
      socket.setTimeout(idleMs);
      socket.on('timeout', () => {
        if (this.ended || !this.reading) return;
        if (this.queue.length > 0) {
          socket.setTimeout(idleMs); // busy, not idle: a fired timer stays off until set again
          return;
        }
        this.endReason ||= 'idle-timeout';
        this.reading = false;
        this.buf = '';
        this.queue.push({ answer: 'Error: Idle timeout\n' });
        this.endWhenFlushed = true;
        this.pump();
      });
    }
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.endReason ||= err.code ?? 'error';
    });
    socket.on('close', () => {
      this.endReason ||= 'client-closed';
      this.cancel(syError('SY_ERR_CLIENT_GONE'));
    });
  }

  /** Lines read but not yet answered on the wire. */
  get pending(): number {
    return this.queue.length;
  }

  /** Call `fn` once every job this connection started has settled (at once if none is running). */
  whenSettled(fn: () => void): void {
    if (this.jobsInFlight === 0) fn();
    else this.onSettled = fn;
  }

  /** Stop taking lines; end once the answers in flight are written (listener shutdown). */
  shutdown(): void {
    this.endReason ||= 'shutdown';
    this.reading = false;
    this.buf = '';
    this.endWhenFlushed = true;
    this.pump();
  }

  /**
   * Cancel every job in flight and close now. At shutdown (the listener's grace is over) the
   * lines still waiting are answered with the reason first, as HTTP requests get their 503, so
   * that the client can tell a stop from a crash.
   */
  abort(reason: SwitchyardError): void {
    this.endReason ||= 'aborted';
    this.cancel(reason);
    if (reason.code === 'SY_ERR_SHUTTING_DOWN' && !this.ended && this.socket.writable) {
      for (const slot of this.queue) slot.answer ??= errorLine(reason);
      this.flush();
      this.ended = true;
      this.socket.end();
      setTimeout(() => this.socket.destroy(), 2000).unref();
      return;
    }
    this.socket.destroy();
  }

  /** The client sent FIN: answer what was received (a last unterminated line too), then end. */
  private endOfInput(): void {
    if (this.ended) return;
    this.endReason ||= 'client-ended';
    this.inputEnded = true;
    if (this.reading && this.buf !== '') this.buf += '\n';
    this.endWhenFlushed = true;
    this.pump();
  }

  private cancel(reason: SwitchyardError): void {
    this.reading = false;
    this.buf = '';
    if (!this.controller.signal.aborted) this.controller.abort(reason);
  }

  private pump(): void {
    // Write what is answered, then take more lines; again while that frees room (invalid lines
    // answer at once), so lines already buffered are never left waiting for more input.
    do this.flush();
    while (this.takeLines());
    if (this.ended) return;
    const queue = this.queue;
    // After end of input, `buf` may still hold lines beyond the MAX_PENDING window.
    if (this.endWhenFlushed && queue.length === 0 && (!this.reading || this.buf === '')) {
      this.ended = true;
      this.socket.end();
      // A client that never closes its side: do not hold the socket forever.
      setTimeout(() => this.socket.destroy(), 2000).unref();
      return;
    }
    // Read on while we take lines and can write, or while we only discard (so the close is a FIN).
    if (this.inputEnded) return;
    const flowing = this.reading ? queue.length < MAX_PENDING && !this.writeBlocked : true;
    if (flowing) this.socket.resume();
    else this.socket.pause();
  }

  /** Take complete lines from the buffer while there is room; true if any was taken. */
  private takeLines(): boolean {
    let took = false;
    while (this.reading && !this.writeBlocked && this.queue.length < MAX_PENDING) {
      const nl = this.buf.indexOf('\n');
      if (nl === -1) {
        // An unfinished line: too long already? (allow for the \r of a \r\n still to come)
        const b = this.buf;
        if (b.length > MAX_LINE_BYTES + (b.endsWith('\r') ? 1 : 0)) {
          this.tooLong();
          took = true;
        }
        break;
      }
      let line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line.length > MAX_LINE_BYTES) this.tooLong();
      else this.submit(line);
      took = true;
    }
    return took;
  }

  private submit(line: string): void {
    this.lines++;
    const m = INTEGER.exec(line);
    const n = m === null ? Number.NaN : Number(m[1]);
    if (!Number.isSafeInteger(n)) {
      this.invalid++;
      this.queue.push({ answer: INVALID });
      return;
    }
    const slot: Slot = { answer: undefined };
    this.queue.push(slot);
    const signal = this.controller.signal;
    this.jobsInFlight++;
    this.pool
      .run(this.job, n, { signal, timing: this.timing })
      .then(
        (v) => {
          slot.answer = `Result: ${resultText(v)}\n`;
          this.pump();
        },
        (err: unknown) => {
          if (signal.aborted) return; // the client is gone: nobody to answer
          slot.answer = errorLine(err);
          this.pump();
        },
      )
      .finally(() => {
        if (--this.jobsInFlight === 0) this.onSettled?.();
      });
  }

  private tooLong(): void {
    this.endReason ||= 'line-too-long';
    this.reading = false;
    this.buf = '';
    this.queue.push({ answer: TOO_LONG });
    this.endWhenFlushed = true;
  }

  /** Write the answered head of the queue, in one write. */
  private flush(): void {
    const queue = this.queue;
    if (queue.length === 0 || queue[0]!.answer === undefined) return;
    let out = '';
    while (queue.length > 0 && queue[0]!.answer !== undefined) out += queue.shift()!.answer;
    if (this.socket.destroyed || this.socket.writableEnded) return;
    if (!this.socket.write(out, 'latin1')) this.writeBlocked = true;
  }
}

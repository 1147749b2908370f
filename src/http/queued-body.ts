/**
 * The request body as an engine delivers it, turned into the pipeline's `RequestBody`: chunks
 * queued for one reader, with backpressure — the engine's source is paused while more than
 * HIGH_WATER bytes wait for the reader and resumed when it has taken half of them — and the
 * `limit` cap checked on every chunk (crossing it answers 413 at once through the owner and fails
 * the reader). A failure (cap, client gone, unparseable body, cancellation) fails a waiting reader
 * at once: it would otherwise wait for data that never comes.
 *
 * Each engine supplies the source: how to pause and resume it, and when that is still allowed.
 */
import { type SwitchyardError, syError } from '../errors.js';
import type { RequestBody } from '../exchange.js';

export const HIGH_WATER = 256 * 1024;

/** What a body reports to its exchange. */
export interface BodySink {
  /** called once when the cap is crossed, before the reader fails */
  overLimit(err: SwitchyardError): void;
  /** bytes counted for the access log */
  bytesIn: number;
}

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };

export abstract class QueuedBody implements RequestBody, AsyncIterator<Buffer> {
  readonly declared: number;
  received = 0;
  limit = Number.POSITIVE_INFINITY;
  /** the last chunk has arrived (read or not) */
  protected ended = false;
  protected failure: unknown = undefined;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private waiter: Waiter | undefined = undefined;
  private readonly sink: BodySink;

  constructor(declared: number, sink: BodySink) {
    this.declared = declared;
    this.sink = sink;
  }

  /** Has the whole body arrived (read or not)? Otherwise answering must close the connection. */
  abstract get complete(): boolean;

  /** Stop the source delivering (the reader is behind). */
  protected abstract pauseSource(): void;
  /** Let the source deliver again; false when it can no longer be touched (then nothing is done). */
  protected abstract resumeSource(): boolean;

  /** The reader asked for the body (first `next()` or the iterator itself). */
  abstract [Symbol.asyncIterator](): AsyncIterator<Buffer>;

  /**
   * A chunk arrived (`last`: it is the final one). Counts it, enforces the cap, and hands it to a
   * waiting reader or queues it. `chunk` must be the body's own copy.
   */
  protected deliver(chunk: Buffer, last: boolean): void {
    if (this.failure !== undefined) return;
    const n = chunk.byteLength;
    this.received += n;
    this.sink.bytesIn = this.received;
    if (this.received > this.limit) {
      const err = syError('SY_ERR_BODY_TOO_LARGE', `request body over ${this.limit} bytes`);
      this.sink.overLimit(err);
      this.fail(err);
      return;
    }
    if (last) this.ended = true;
    if (n > 0) {
      const w = this.waiter;
      if (w !== undefined) {
        this.waiter = undefined;
        w.resolve({ value: chunk, done: false });
      } else {
        this.queue.push(chunk);
        this.queued += n;
        if (this.queued > HIGH_WATER && !this.paused && !last) {
          this.paused = true;
          this.pauseSource();
        }
      }
    }
    if (last) this.finish();
  }

  /** The source ended (no more chunks): a reader waiting on an empty queue is done. */
  protected finish(): void {
    this.ended = true;
    const w = this.waiter;
    if (w !== undefined && this.queue.length === 0) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Fail the reader (cap crossed, client gone, unparseable body, request cancelled). Idempotent. */
  fail(err: unknown): void {
    if (this.failure !== undefined) return;
    this.failure = err;
    this.queue = [];
    this.queued = 0;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.reject(err);
    }
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued < HIGH_WATER / 2 && this.failure === undefined) this.resume();
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.paused) this.resume();
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  private resume(): void {
    if (this.resumeSource()) this.paused = false;
  }

  /** A consumer that stops early (break / throw in for-await): the rest stays unread. */
  return(): Promise<IteratorResult<Buffer>> {
    return Promise.resolve({ value: undefined, done: true });
  }
}

/** The body of a request that has none. Shared: it holds no state. */
export const EMPTY_BODY: RequestBody = {
  declared: 0,
  received: 0,
  get limit() {
    return Number.POSITIVE_INFINITY;
  },
  set limit(_v: number) {},
  async *[Symbol.asyncIterator]() {},
};

/**
 * One attempt of a proxied request on one peer: the undici dispatch handler, and, once the
 * response head has arrived, the response body as an async iterator the engine pulls from.
 *
 * Why a handler of our own rather than `request()`: one object per attempt instead of a Readable
 * stream plus its async iterator, and exact control of the three things a proxy needs.
 * - Backpressure: chunks queue here; at HIGH_WATER the undici parser is paused (`onData`
 *   returns false), and it resumes when the engine has pulled the queue below LOW_WATER.
 *   The engine pulls only when uWS can take more, so a slow client slows the upstream read.
 * - Cancellation: the attempt listens to one AbortSignal (the request's, or a hedge race's) and
 *   aborts the undici request, which destroys its socket: the upstream sees the close at once
 *   (measured through the CLI: 1-20 ms). undici 7 then opens one spare connection that idles until
 *   the keep-alive timeout (nodejs/undici#5845).
 *   Before undici has a socket for it there is no abort function yet; the attempt then settles at
 *   once and aborts the request when undici hands it over (`onConnect`).
 * - Release on every path: end, error, abort, or `return()` from the engine (HEAD, 204/304, client
 *   gone) each settle the attempt once: the peer's in-flight count drops and the listener goes.
 *   A body the engine stops reading early is aborted, never left half-read on a pooled socket.
 *
 * Settlement order: the response head (status ≥ 200) or the failure before it (the undici error /
 * abort reason) is reported once: to the request's `HeadSink` when it has one, synchronously from
 * undici's callbacks (forwarding.ts: no promise per attempt on the common path), else through the
 * `head` promise (retries under a hedge race, hedge.ts). After the head, failures reach the body
 * reader as a rejected `next()`; the sink hears of a complete body (`onEnd`).
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { syError } from '../errors.js';
import type { CancelSource, Exchange } from '../exchange.js';
import { classify } from './failure.js';
import type { Peer } from './peer.js';

const HIGH_WATER = 256 * 1024;
const LOW_WATER = 64 * 1024;

export const State = { Waiting: 0, Body: 1, Ended: 2, Failed: 3, Released: 4 } as const;
type State = (typeof State)[keyof typeof State];

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };
const DONE: IteratorResult<Buffer> = { value: undefined, done: true };
/** `head` of an attempt that reports to a sink: never settles, and nobody awaits it. */
const TO_SINK: Promise<never> = new Promise(() => {});

/** Who hears of an attempt's head, of its failure before one, and of its body's end. */
export interface HeadSink {
  onHead(a: Attempt): void;
  onFail(a: Attempt, err: unknown): void;
  onEnd(a: Attempt): void;
}

export class Attempt implements AsyncIterator<Buffer>, AsyncIterable<Buffer> {
  readonly peer: Peer;
  readonly startTime: number;
  /** the request handed to a socket: the upstream may have seen it */
  sent = false;
  state: State = State.Waiting;
  status = 0;
  /** the response head as undici read it: [name, value, …], bytes (response-headers.ts reads it) */
  rawHeaders: Buffer[] = [];
  /** resolves with this attempt at the response head (without a sink) */
  readonly head: Promise<Attempt>;
  private readonly sink: HeadSink | null;
  /** set once this attempt's response is the one the client gets (access-log timing) */
  ex: Exchange | undefined = undefined;

  /** undici's abort for this request, once it has a socket (`onConnect`) */
  private abortFn: ((err?: Error) => void) | null = null;
  private resumeFn: (() => void) | null = null;
  private paused = false;
  private pendingAbort: Error | null = null;
  private signal: CancelSource | undefined;
  private resolveHead!: (a: Attempt) => void;
  private rejectHead!: (e: unknown) => void;
  private queue: Buffer[] = [];
  private queued = 0;
  private waiter: Waiter | undefined = undefined;
  private failure: unknown = undefined;
  private settled = false;

  /**
   * With a `sink`, the head or the failure before it is reported to it, possibly before the
   * constructor returns (a request already cancelled, undici refusing the arguments).
   */
  constructor(
    peer: Peer,
    opts: Dispatcher.DispatchOptions,
    signal: CancelSource | undefined,
    sink: HeadSink | null = null,
  ) {
    this.peer = peer;
    this.startTime = performance.now();
    this.sink = sink;
    this.head =
      sink !== null
        ? TO_SINK
        : new Promise<Attempt>((resolve, reject) => {
            this.resolveHead = resolve;
            this.rejectHead = reject;
          });
    peer.active++;
    this.signal = signal;
    if (signal !== undefined) {
      if (signal.aborted) {
        this.abort(signal.reason);
        return;
      }
      signal.addEventListener('abort', this);
    }
    // The callback protocol is not in undici 7's handler typings any more; it is what its clients call.
    peer.pool.dispatch(opts, this as unknown as Dispatcher.DispatchHandler);
  }

  /** Listen to another signal from now on (a hedge winner, once the race is over). */
  listen(signal: CancelSource): void {
    this.signal?.removeEventListener('abort', this);
    this.signal = undefined;
    if (this.settled) return;
    if (signal.aborted) return this.abort(signal.reason);
    this.signal = signal;
    signal.addEventListener('abort', this);
  }

  /** AbortSignal listener (a block body: a listener must never return a promise). */
  handleEvent(): void {
    this.abort(this.signal?.reason);
  }

  /** Abort the upstream request (no-op once ended or failed). */
  abort(reason: unknown): void {
    if (this.settled) return;
    const err = reason instanceof Error ? reason : syError('SY_ERR_CANCELLED');
    if (this.abortFn !== null) {
      // Calls onError synchronously, then destroys the socket.
      this.abortFn(err);
      if (!this.settled) this.fail(err);
    } else {
      this.pendingAbort = err;
      this.fail(err);
    }
  }

  // --- undici handler (the callback protocol undici runs natively) --------------------------
  // undici wraps a handler with `onRequestStart`/`onResponseStart` in an adapter that allocates a
  // controller per request and parses the trailers into an object at every end; these callbacks
  // are called directly.

  onConnect(abort: (err?: Error) => void): void {
    this.abortFn = abort;
    this.sent = true;
    if (this.pendingAbort !== null) abort(this.pendingAbort);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200 || this.state !== State.Waiting) return true; // 1xx (103 Early Hints …): not ours
    this.state = State.Body;
    this.status = statusCode;
    this.rawHeaders = rawHeaders;
    this.resumeFn = resume;
    if (this.sink !== null) this.sink.onHead(this);
    else this.resolveHead(this);
    return true;
  }

  /** Returns false to pause undici's parser (backpressure); `next()` resumes it. */
  onData(chunk: Buffer): boolean {
    if (this.state !== State.Body) return true;
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve({ value: chunk, done: false });
      return true;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued >= HIGH_WATER) this.paused = true;
    return !this.paused;
  }

  onComplete(): void {
    if (this.state !== State.Body) return;
    this.state = State.Ended;
    this.settle(undefined);
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve(DONE);
    }
    this.sink?.onEnd(this);
  }

  onError(err: Error): void {
    if (!this.settled) this.fail(err);
  }

  onUpgrade(): void {
    // Never asked for: `upgrade` is not set on a proxied request (WebSockets: websocket.ts).
  }

  onBodySent(): void {}

  private fail(err: unknown): void {
    const wasWaiting = this.state === State.Waiting;
    this.state = State.Failed;
    this.failure = err;
    this.queue = [];
    this.queued = 0;
    this.settle(err);
    if (wasWaiting) {
      if (this.sink !== null) this.sink.onFail(this, err);
      else this.rejectHead(err);
      return;
    }
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.reject(this.bodyError());
    }
  }

  private settle(err: unknown): void {
    if (this.settled) return;
    this.settled = true;
    this.peer.active--;
    this.signal?.removeEventListener('abort', this);
    this.signal = undefined;
    const now = performance.now();
    if (this.ex !== undefined) this.ex.upstreamTime = now - this.startTime;
    // A failure mid-body (the head was fine) still says something about the peer.
    if (err !== undefined && this.status !== 0) {
      const f = classify(err, true, this.peer.address);
      if (f.counts) this.peer.failed(now, f.error.code);
    }
  }

  /** The failure as the client should see it (a catalogue error). */
  bodyError(): unknown {
    return classify(this.failure, true, this.peer.address).error;
  }

  // --- the response body, for the engine ------------------------------------------------------

  /** Bytes already received and not yet read. */
  get buffered(): number {
    return this.queued;
  }

  /** The whole body at once, for a response that already ended (the small-response fast path). */
  takeAll(): Buffer {
    const q = this.queue;
    this.queue = [];
    this.queued = 0;
    this.state = State.Released;
    return q.length === 1 ? q[0]! : Buffer.concat(q);
  }

  next(): Promise<IteratorResult<Buffer>> {
    const chunk = this.queue.shift();
    if (chunk !== undefined) {
      this.queued -= chunk.length;
      if (this.paused && this.queued <= LOW_WATER) {
        this.paused = false;
        this.resumeFn?.();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    switch (this.state) {
      case State.Body:
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      case State.Failed:
        return Promise.reject(this.bodyError());
      default:
        return Promise.resolve(DONE);
    }
  }

  /** The reader stops early (HEAD, 204/304, client gone): abort what is still coming. */
  return(): Promise<IteratorResult<Buffer>> {
    if (this.state === State.Body) this.abort(syError('SY_ERR_CANCELLED', 'response body not read'));
    this.queue = [];
    this.queued = 0;
    if (this.state !== State.Failed) this.state = State.Released;
    return Promise.resolve(DONE);
  }

  /** Drop a response nobody will read (a hedge loser that answered too, an invalid head). */
  release(): void {
    void this.return();
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }
}

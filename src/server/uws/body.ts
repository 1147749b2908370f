/**
 * The request body as uWS delivers it (`onData`), turned into an async iterable with backpressure:
 * chunks are copied (uWS detaches the ArrayBuffer when the callback returns), queued, and the
 * socket is paused (`res.pause()`) while more than HIGH_WATER bytes wait for the reader, resumed
 * when the reader has taken them. The `limit` cap is checked on every chunk: crossing it answers
 * 413 at once (the owner's `overLimit`) and fails the reader.
 */
import type { HttpResponse } from 'uWebSockets.js';
import { type SwitchyardError, syError } from '../../errors.js';
import { Phase, type RequestBody } from '../../exchange.js';

const HIGH_WATER = 256 * 1024;

export interface BodyOwner {
  /** called once when the cap is crossed, before the reader fails */
  overLimit(err: SwitchyardError): void;
  /** bytes counted for the access log */
  bytesIn: number;
  /** Done or Closed: `res` is no longer valid (uWS throws on any call) */
  readonly phase: Phase;
}

/**
 * Is the response still open? The body may keep arriving after the response is complete (a
 * handler that answered without reading it): uWS still calls onData, but `res.pause()` then
 * throws from inside uWS's callback, which ends the process (test/hardening/regressions.test.ts
 * 'body arriving after a streamed %s reply is complete is dropped, not a crash').
 */
function live(owner: BodyOwner): boolean {
  return owner.phase === Phase.Open || owner.phase === Phase.Streaming;
}

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };

export class UwsBody implements RequestBody, AsyncIterator<Buffer> {
  readonly declared: number;
  received = 0;
  limit = Number.POSITIVE_INFINITY;
  /** true once the last chunk arrived */
  complete = false;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private failure: unknown = undefined;
  private waiter: Waiter | undefined = undefined;
  private iterated = false;
  private readonly res: HttpResponse;
  private readonly owner: BodyOwner;

  constructor(res: HttpResponse, declared: number, owner: BodyOwner) {
    this.res = res;
    this.declared = declared;
    this.owner = owner;
    res.onData((ab, isLast) => this.onData(ab, isLast));
  }

  private onData(ab: ArrayBuffer, isLast: boolean): void {
    if (this.failure !== undefined) return;
    if (!live(this.owner)) {
      // answered already: nobody will read the rest; drop it (uWS's timers bound the sender)
      this.fail(syError('SY_ERR_CANCELLED', 'the response is complete'));
      return;
    }
    const n = ab.byteLength;
    this.received += n;
    this.owner.bytesIn = this.received;
    if (this.received > this.limit) {
      const err = syError('SY_ERR_BODY_TOO_LARGE', `request body over ${this.limit} bytes`);
      this.owner.overLimit(err);
      this.fail(err);
      return;
    }
    if (isLast) this.complete = true;
    if (n > 0) {
      const chunk = Buffer.copyBytesFrom(new Uint8Array(ab));
      const w = this.waiter;
      if (w !== undefined) {
        this.waiter = undefined;
        w.resolve({ value: chunk, done: false });
      } else {
        this.queue.push(chunk);
        this.queued += n;
        if (this.queued > HIGH_WATER && !this.paused && !isLast) {
          this.paused = true;
          this.res.pause();
        }
      }
    }
    if (isLast && this.waiter !== undefined && this.queue.length === 0) {
      const w = this.waiter;
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  }

  /** Fail the reader (cap crossed, client gone, request cancelled). Idempotent. */
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
      if (this.paused && this.queued < HIGH_WATER / 2 && this.failure === undefined && live(this.owner)) {
        this.paused = false;
        this.res.resume();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.complete) return Promise.resolve({ value: undefined, done: true });
    if (this.paused && live(this.owner)) {
      this.paused = false;
      this.res.resume();
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Called when a consumer stops early (break / throw in for-await): nothing to release. */
  return(): Promise<IteratorResult<Buffer>> {
    return Promise.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.iterated) throw syError('SY_ERR_BAD_BODY', 'the request body can be read only once');
    this.iterated = true;
    return this;
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

/**
 * The request body as node:http (or the node:http2 compatibility layer) delivers it, as the
 * pipeline's `RequestBody`: chunks queued with backpressure (the request is paused while more
 * than HIGH_WATER bytes wait for the reader, which stops node reading the socket, or HTTP/2
 * flow-control credit), the `limit` cap checked on every chunk (crossing it answers 413 at once
 * through the owner and fails the reader). A client that goes away, or body bytes llhttp cannot
 * parse (the engine's `fail`), fail a waiting reader at once — a stream iterator would wait for
 * data that never comes.
 *
 * `Expect: 100-continue` is answered when the body is first read, not when the head arrives: a
 * request refused before its body is wanted (413 by Content-Length, 404, a synchronous answer)
 * never invites the client to send it (RFC 9110 §10.1.1 lets the server answer the final status
 * instead of 100).
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { type SwitchyardError, syError } from '../../errors.js';
import type { RequestBody } from '../../exchange.js';

export interface BodyOwner {
  /** called once when the cap is crossed, before the reader fails */
  overLimit(err: SwitchyardError): void;
  /** the client asked `Expect: 100-continue`: send the 100 now */
  continueOnce(): void;
  /** why the request was cancelled, if it was (client gone, timeout, drain) */
  readonly cancelReason: SwitchyardError | undefined;
  /** bytes counted for the access log */
  bytesIn: number;
}

export type NodeRequest = IncomingMessage | Http2ServerRequest;

const HIGH_WATER = 256 * 1024;

type Waiter = { resolve: (r: IteratorResult<Buffer>) => void; reject: (e: unknown) => void };

export class NodeBody implements RequestBody, AsyncIterator<Buffer> {
  readonly declared: number;
  received = 0;
  limit = Number.POSITIVE_INFINITY;
  private readonly req: NodeRequest;
  private readonly owner: BodyOwner;
  private queue: Buffer[] = [];
  private queued = 0;
  private paused = false;
  private ended = false;
  private reading = false;
  private failure: unknown = undefined;
  private waiter: Waiter | undefined = undefined;

  constructor(req: NodeRequest, declared: number, owner: BodyOwner) {
    this.req = req;
    this.declared = declared;
    this.owner = owner;
  }

  /** Has the whole body arrived (read or not)? Otherwise answering must close the connection. */
  get complete(): boolean {
    return this.req.complete;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.reading) throw syError('SY_ERR_BAD_BODY', 'the request body can be read only once');
    this.reading = true;
    if (this.failure === undefined) {
      this.owner.continueOnce();
      // Listeners only once someone reads: an unread body stays in node's buffer, and node stops
      // reading the socket when that is full.
      const req = this.req;
      req.on('data', this.onData);
      req.on('end', this.onEnd);
      req.on('error', this.onError);
    }
    return this;
  }

  private onData = (chunk: Buffer): void => {
    if (this.failure !== undefined) return;
    this.received += chunk.length;
    this.owner.bytesIn = this.received;
    if (this.received > this.limit) {
      const err = syError('SY_ERR_BODY_TOO_LARGE', `request body over ${this.limit} bytes`);
      this.owner.overLimit(err);
      this.fail(err);
      return;
    }
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w.resolve({ value: chunk, done: false });
      return;
    }
    this.queue.push(chunk);
    this.queued += chunk.length;
    if (this.queued > HIGH_WATER && !this.paused) {
      this.paused = true;
      this.req.pause();
    }
  };

  private onEnd = (): void => {
    this.ended = true;
    const w = this.waiter;
    if (w !== undefined && this.queue.length === 0) {
      this.waiter = undefined;
      w.resolve({ value: undefined, done: true });
    }
  };

  private onError = (err: unknown): void => {
    this.fail(this.owner.cancelReason ?? syError('SY_ERR_CLIENT_GONE', undefined, { cause: err }));
  };

  /** Fail the reader (cap crossed, client gone, unparseable body, request cancelled). Idempotent. */
  fail(err: unknown): void {
    if (this.failure !== undefined || this.ended) return;
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
      if (this.paused && this.queued < HIGH_WATER / 2) {
        this.paused = false;
        this.req.resume();
      }
      return Promise.resolve({ value: chunk, done: false });
    }
    if (this.failure !== undefined) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve({ value: undefined, done: true });
    if (this.paused) {
      this.paused = false;
      this.req.resume();
    }
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
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

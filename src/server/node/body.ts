/**
 * The request body as node:http (or the node:http2 compatibility layer) delivers it, fed into the
 * engine-neutral queue (src/http/queued-body.ts): pausing the request stops node reading the
 * socket (or HTTP/2 flow-control credit). A client that goes away, or body bytes llhttp cannot
 * parse (the engine's `fail`), fail a waiting reader at once.
 *
 * `Expect: 100-continue` is answered when the body is first read, not when the head arrives: a
 * request refused before its body is wanted (413 by Content-Length, 404, a synchronous answer)
 * never invites the client to send it (RFC 9110 §10.1.1 lets the server answer the final status
 * instead of 100).
 */
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { type SwitchyardError, syError } from '../../errors.js';
import { type BodySink, QueuedBody } from '../../http/queued-body.js';

export { EMPTY_BODY } from '../../http/queued-body.js';

export interface BodyOwner extends BodySink {
  /** the client asked `Expect: 100-continue`: send the 100 now */
  continueOnce(): void;
  /** why the request was cancelled, if it was (client gone, timeout, drain) */
  readonly cancelReason: SwitchyardError | undefined;
}

export type NodeRequest = IncomingMessage | Http2ServerRequest;

export class NodeBody extends QueuedBody {
  private readonly req: NodeRequest;
  private readonly owner: BodyOwner;
  private reading = false;

  constructor(req: NodeRequest, declared: number, owner: BodyOwner) {
    super(declared, owner);
    this.req = req;
    this.owner = owner;
  }

  /** Has the whole body arrived (read or not)? Otherwise answering must close the connection. */
  get complete(): boolean {
    return this.req.complete;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    // a second read is the handler's mistake, not the client's: a 500, logged
    if (this.reading) throw syError('SY_ERR_HANDLER', 'the request body can be read only once');
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
    this.deliver(chunk, false);
  };

  private onEnd = (): void => {
    this.finish();
  };

  private onError = (err: unknown): void => {
    this.fail(this.owner.cancelReason ?? syError('SY_ERR_CLIENT_GONE', undefined, { cause: err }));
  };

  /** A body that has fully arrived stays readable: only an unfinished one fails. */
  override fail(err: unknown): void {
    if (this.ended) return;
    super.fail(err);
  }

  protected pauseSource(): void {
    this.req.pause();
  }

  protected resumeSource(): boolean {
    this.req.resume();
    return true;
  }
}

/**
 * The request body as uWS delivers it (`onData`): each chunk is copied (uWS detaches the
 * ArrayBuffer when the callback returns) into the engine-neutral queue (src/http/queued-body.ts),
 * which pauses the socket (`res.pause()`) while the reader is behind.
 */

import type { HttpResponse } from 'uWebSockets.js';
import { Buffer } from 'node:buffer';
import { syError } from '../../errors.js';
import { Phase } from '../../exchange.js';
import { type BodySink, QueuedBody } from '../../http/queued-body.js';

export { EMPTY_BODY } from '../../http/queued-body.js';

export interface BodyOwner extends BodySink {
  /** Done or Closed: `res` is no longer valid (uWS throws on any call) */
  readonly phase: Phase;
}

const NO_BYTES = Buffer.alloc(0);

/**
 * Is the response still open? The body may keep arriving after the response is complete (a
 * handler that answered without reading it): uWS still calls onData, but `res.pause()` then
 * throws from inside uWS's callback, which ends the process (test/hardening/regressions.test.ts
 * 'body arriving after a streamed %s reply is complete is dropped, not a crash').
 */
function live(owner: BodyOwner): boolean {
  return owner.phase === Phase.Open || owner.phase === Phase.Streaming;
}

export class UwsBody extends QueuedBody {
  private iterated = false;
  private readonly res: HttpResponse;
  private readonly owner: BodyOwner;

  constructor(res: HttpResponse, declared: number, owner: BodyOwner) {
    super(declared, owner);
    this.res = res;
    this.owner = owner;
    res.onData((ab, isLast) => this.onData(ab, isLast));
  }

  /** true once the last chunk arrived */
  get complete(): boolean {
    return this.ended;
  }

  private onData(ab: ArrayBuffer, isLast: boolean): void {
    if (this.failure !== undefined) return;
    if (!live(this.owner)) {
      // answered already: nobody will read the rest; drop it (uWS's timers bound the sender)
      this.fail(syError('SY_ERR_CANCELLED', 'the response is complete'));
      return;
    }
    this.deliver(ab.byteLength > 0 ? Buffer.copyBytesFrom(new Uint8Array(ab)) : NO_BYTES, isLast);
  }

  protected pauseSource(): void {
    this.res.pause();
  }

  protected resumeSource(): boolean {
    if (!live(this.owner)) return false;
    this.res.resume();
    return true;
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    // a second read is the handler's mistake, not the client's: a 500, logged
    if (this.iterated) throw syError('SY_ERR_HANDLER', 'the request body can be read only once');
    this.iterated = true;
    return this;
  }
}

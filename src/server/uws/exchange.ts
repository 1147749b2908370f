/**
 * The uWS side of an Exchange: created synchronously inside the uWS handler (the HttpRequest is
 * only valid until it returns), it copies the request, attaches `onAborted` (before any await, or
 * uWS kills the process) and `onData` (when there is a body), and implements `send`/`close`.
 *
 * Writing (docs/uws.md): every write is corked; small bodies go out with one `end()`; large
 * known-length bodies with `tryEnd` + `onWritable` so uWS never holds more than a socket buffer;
 * iterable bodies stream chunked (≤ 16 KiB per write) or with `tryEnd` when the length is known,
 * waiting for `onWritable` whenever uWS reports backpressure. HEAD gets `Content-Length` and no
 * body, 204/304 neither. A failure after the status line closes the connection, so a truncated
 * response never looks complete.
 */

import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { Buffer } from 'node:buffer';
import { type SwitchyardError, syError } from '../../errors.js';
import { Phase, type Reply, type RequestBody } from '../../exchange.js';
import { EngineExchange, nextTurn, pieceBytes, RESOLVED, YIELD_EVERY } from '../../http/engine-exchange.js';
import { releaseBody, statusHasBody, wantsClose } from '../../http/reply-rules.js';
import type { CopiedRequest, HeaderLimits } from '../../http/request-checks.js';
import { peerAddress } from './address.js';
import { type BodyOwner, EMPTY_BODY, UwsBody } from './body.js';
import { copyRequest } from './request.js';
import {
  corked,
  corkFor,
  endHead,
  writeClosingHeadCorked,
  writeHeadCorked,
  writeWholeCorked,
} from './write.js';

/** Bodies up to this size are written with one `end()`; larger ones with tryEnd/onWritable. */
const END_AT_ONCE = 64 * 1024;
/**
 * Largest piece handed to one chunked `write()`. uWS buffers a whole piece, so they are small; and
 * a piece must fit, with its chunk-size line (and, on the first write, the Date and
 * Transfer-Encoding lines), in uWS's 16 KiB cork buffer. A piece that does not fit makes uWS flush
 * the size line first, and when the kernel cannot take even that, this build (AsyncSocket::uncork)
 * returns without writing the piece: its bytes are lost and the client sees a broken chunk. A piece
 * that fits is buffered whole, and the next write reports the backpressure (docs/uws.md;
 * test/hardening/regressions.test.ts 'chunked pieces fit the cork buffer').
 */
const WRITE_CHUNK = 16 * 1024 - 256;
const NOOP = (): void => {};

/** Hooks the engine gives every exchange. */
export interface EngineHooks {
  /** the listener serves TLS */
  secure: boolean;
  limits: HeaderLimits;
  /** read the peer address of every request up front (the access log needs it after the response) */
  eagerAddress: boolean;
  /** the listener's `chunked_requests: accept` */
  acceptChunked: boolean;
  /** log a response that could not be written as asked (bad header, stream failure) */
  onWriteError(ex: UwsExchange, err: SwitchyardError | Error): void;
}

// One reused record for copyRequest (the copy is synchronous and never nested).
const copied: CopiedRequest = { headers: [], host: '', close: false, declared: 0, problem: undefined };

export class UwsExchange extends EngineExchange implements BodyOwner {
  // `declare`d and assigned in the constructor (see Exchange): no field definitions per request.
  declare readonly res: HttpResponse;
  declare readonly body: RequestBody;
  declare protected readonly hooks: EngineHooks;
  // streaming state
  declare private pending: Buffer | undefined;
  declare private pendingOffset: number;
  declare private total: number;
  /** the write of a closing reply, waiting one loop turn (see `sendLater`) */
  declare private later: Promise<void> | undefined;

  static accept(res: HttpResponse, req: HttpRequest, hooks: EngineHooks): UwsExchange {
    const method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    copyRequest(req, url.length + query.length, hooks.limits, copied);
    // uWS's chunked decoder smuggles (SECURITY.md; test/smuggling.test.ts): 411 unless opted in.
    if (copied.declared === -1 && copied.problem === undefined && !hooks.acceptChunked)
      copied.problem = syError('SY_ERR_CHUNKED_REFUSED');
    const address = hooks.eagerAddress ? peerAddress(res) : undefined;
    return new UwsExchange(res, method, url, query, address, hooks);
  }

  private constructor(
    res: HttpResponse,
    method: string,
    url: string,
    query: string,
    address: string | undefined,
    hooks: EngineHooks,
  ) {
    super(method, url, query, copied.headers, address);
    this.res = res;
    this.hooks = hooks;
    this.pending = undefined;
    this.pendingOffset = 0;
    this.total = 0;
    this.later = undefined;
    this.host = copied.host;
    this.problem = copied.problem;
    // The client's `Connection: close`: uWS closes after the answer, but answers a request
    // pipelined behind it too (RFC 9112 §9.6: MUST NOT); as ours, the close defers the answer.
    if (copied.close) this.closeAfter = true;
    // No body reading for a request we are about to refuse: it is answered with Connection: close.
    this.body =
      copied.declared !== 0 && copied.problem === undefined
        ? new UwsBody(res, copied.declared, this)
        : EMPTY_BODY;
  }

  protected readAddress(): string {
    // `res` may only be touched until the response ends or the client goes away.
    return this.phase === Phase.Open || this.phase === Phase.Streaming ? peerAddress(this.res) : '';
  }

  /**
   * Called by the engine after the pipeline's synchronous part: a response not finished by then
   * needs `onAborted` (uWS kills the process otherwise); one that is finished never pays for it.
   */
  watchAbort(): void {
    this.res.onAborted(() => this.clientGone());
  }

  /** uWS: the client went away (or we closed the socket). Every `res` method throws from now on. */
  private clientGone(): void {
    const wasDone = this.phase === Phase.Done;
    this.phase = Phase.Closed;
    if (!wasDone) {
      // our closing answer pending: uWS refused to read past it (README, access log: closed_by)
      this.closedBy ??= this.later !== undefined ? 'server' : 'client';
      const err = syError('SY_ERR_CLIENT_GONE');
      if (this.body instanceof UwsBody) this.body.fail(err);
      this.cancel(err);
    }
    this.wake();
  }

  protected destroyConnection(): void {
    this.res.close();
  }

  /**
   * uWS completes a streamed reply's head (its Date, framing and blank line) only with the first
   * body byte: a stream cut before one left the client no response, so the access log says 0,
   * not the status we began to write (docs/uws.md).
   */
  override close(): void {
    if (this.phase === Phase.Streaming && this.bytesOut === 0) this.status = 0;
    super.close();
  }

  send(reply: Reply): Promise<void> {
    if (this.later !== undefined) return this.later;
    if (this.phase !== Phase.Open) return RESOLVED;
    reply = this.checked(reply);
    const close = this.closeAfter || this.bodyUnread() || wantsClose(reply.headers);
    return close ? this.sendLater(reply) : this.write(reply, false);
  }

  /**
   * A reply that closes the connection is written one loop turn later. uWS (20.30) forgets a
   * response's `Connection: close` when another request follows in the same read, and dispatches
   * that request too: a request we refuse as malformed (differing Content-Length, …) could carry
   * a second one straight to a track and the upstream. Still unanswered when uWS parses the
   * pipelined request, ours is pending, and uWS then closes the connection instead (neither is
   * answered). Microtasks run between two pipelined requests; `setImmediate` does not
   * (test/conformance.test.ts 'differing Content-Length (0 and 41), then a request hidden in …').
   */
  private sendLater(reply: Reply): Promise<void> {
    this.later = new Promise((resolve) => {
      setImmediate(() => resolve(this.write(reply, true)));
    });
    return this.later;
  }

  private write(reply: Reply, close: boolean): Promise<void> {
    if (this.phase !== Phase.Open) {
      releaseBody(reply.body); // the client went away meanwhile (or uWS closed for a pipelined request)
      return RESOLVED;
    }
    if (UwsExchange.wantsFirstPiece(reply, this.method))
      return this.firstPiece(reply).then((r) => (r === undefined ? undefined : this.write(r, close)));
    this.status = reply.status; // every path below writes the status line now
    if (close) this.closedBy ??= 'server';
    const body = reply.body;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      const whole = body ?? '';
      if (
        typeof whole !== 'string' &&
        whole.byteLength > END_AT_ONCE &&
        this.method !== 'HEAD' &&
        statusHasBody(reply.status)
      ) {
        return this.streamKnown(reply, [whole], whole.byteLength, close);
      }
      if (
        typeof whole === 'string' &&
        whole.length > END_AT_ONCE &&
        this.method !== 'HEAD' &&
        statusHasBody(reply.status)
      ) {
        const buf = Buffer.from(whole);
        return this.streamKnown(reply, [buf], buf.byteLength, close);
      }
      corkFor(this, reply, whole, close);
      corked(this.res, writeWholeCorked);
      this.phase = close ? Phase.Closed : Phase.Done;
      return RESOLVED;
    }
    if (reply.length !== undefined) return this.streamKnown(reply, body, reply.length, close);
    return this.streamChunked(reply, body, close);
  }

  /** Head only, for HEAD / 204 / 304 with an iterable body: release the iterable. */
  private endWithoutBody(
    reply: Reply,
    body: AsyncIterable<unknown> | Iterable<unknown>,
    length: number | undefined,
    close: boolean,
  ): void {
    corkFor(this, reply);
    this.res.cork(() => {
      writeHeadCorked();
      endHead(this.res, statusHasBody(reply.status) ? length : undefined, close);
    });
    this.phase = close ? Phase.Closed : Phase.Done;
    const it =
      Symbol.asyncIterator in body ? (body as AsyncIterable<unknown>)[Symbol.asyncIterator]() : undefined;
    it?.return?.()?.catch(NOOP);
  }

  /** uWS's onWritable handler; a method (bound only by a streamed reply), not a closure per exchange */
  private writable(offset: number): boolean {
    const p = this.pending;
    if (p !== undefined) {
      let ok = false;
      let done = false;
      this.res.cork(() => {
        [ok, done] = this.res.tryEnd(p.subarray(offset - this.pendingOffset), this.total);
      });
      if (!ok && !done) return false;
      this.pending = undefined;
      // complete: `res` is invalid from now on (the request body may still be arriving)
      if (done) this.phase = Phase.Done;
    } else {
      // While an onWritable handler is set uWS does not drain its own buffer (docs/uws.md).
      this.res.cork(NOOP);
    }
    this.wake();
    return true;
  }

  private waitWritable(): Promise<void> {
    return new Promise((resolve) => {
      this.waiter = resolve;
    });
  }

  private async streamKnown(
    reply: Reply,
    body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
    total: number,
    close: boolean,
  ): Promise<void> {
    if (this.method === 'HEAD' || !statusHasBody(reply.status))
      return this.endWithoutBody(reply, body, total, close);
    corkFor(this, reply);
    // an empty body ends with `end('', close)`, which closes properly: no header of ours then
    this.res.cork(close && total > 0 ? writeClosingHeadCorked : writeHeadCorked);
    this.phase = Phase.Streaming;
    this.total = total;
    this.res.onWritable((offset) => this.writable(offset));
    let sent = 0;
    let run = 0;
    try {
      if (total === 0) {
        this.res.cork(() => this.res.end('', close));
      } else {
        for await (const piece of body) {
          if (this.phase !== Phase.Streaming) return;
          const chunk = pieceBytes(piece);
          if (sent + chunk.byteLength > total)
            throw syError('SY_ERR_STREAM', `body longer than its length ${total}`);
          const start = this.res.getWriteOffset();
          let ok = false;
          let done = false;
          this.res.cork(() => {
            [ok, done] = this.res.tryEnd(chunk, total);
          });
          sent += chunk.byteLength;
          this.bytesOut = sent;
          if (done) break;
          if (!ok) {
            this.pending = Buffer.isBuffer(chunk)
              ? chunk
              : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
            this.pendingOffset = start;
            await this.waitWritable();
            run = 0;
          } else if (++run === YIELD_EVERY) {
            run = 0;
            await nextTurn();
          }
        }
        if (this.phase === Phase.Streaming && sent < total) {
          throw syError('SY_ERR_STREAM', `body ended after ${sent} of ${total} bytes`);
        }
      }
      if (this.phase === Phase.Streaming) this.phase = Phase.Done;
    } catch (err) {
      this.streamFailed(err);
    }
  }

  private async streamChunked(
    reply: Reply,
    body: AsyncIterable<Uint8Array | string>,
    close: boolean,
  ): Promise<void> {
    if (this.method === 'HEAD' || !statusHasBody(reply.status))
      return this.endWithoutBody(reply, body, undefined, close);
    corkFor(this, reply);
    this.res.cork(close ? writeClosingHeadCorked : writeHeadCorked);
    this.phase = Phase.Streaming;
    this.res.onWritable((offset) => this.writable(offset));
    let sent = 0;
    let run = 0;
    try {
      for await (const piece of body) {
        if (this.phase !== Phase.Streaming) return;
        const chunk = pieceBytes(piece);
        for (let at = 0; at < chunk.byteLength; at += WRITE_CHUNK) {
          const part = chunk.byteLength <= WRITE_CHUNK ? chunk : chunk.subarray(at, at + WRITE_CHUNK);
          let ok = true;
          this.res.cork(() => {
            ok = this.res.write(part);
          });
          sent += part.byteLength;
          this.bytesOut = sent;
          if (!ok) {
            await this.waitWritable();
            if (this.phase !== Phase.Streaming) return;
            run = 0;
          }
        }
        if (++run === YIELD_EVERY) {
          run = 0;
          await nextTurn();
        }
      }
      if (this.phase !== Phase.Streaming) return;
      this.res.cork(() => this.res.end());
      this.phase = Phase.Done;
    } catch (err) {
      this.streamFailed(err);
    }
  }
}

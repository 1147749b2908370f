/**
 * The uWS side of an Exchange: created synchronously inside the uWS handler (the HttpRequest is
 * only valid until it returns), it copies the request, attaches `onAborted` (before any await, or
 * uWS kills the process) and `onData` (when there is a body), and implements `send`/`close`.
 *
 * Writing (platform.md): every write is corked; small bodies go out with one `end()`; large
 * known-length bodies with `tryEnd` + `onWritable` so uWS never holds more than a socket buffer;
 * iterable bodies stream chunked (≤ 16 KiB per write) or with `tryEnd` when the length is known,
 * waiting for `onWritable` whenever uWS reports backpressure. HEAD gets `Content-Length` and no
 * body, 204/304 neither. A failure after the status line closes the connection, so a truncated
 * response never looks complete.
 */
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { errorReply, type SwitchyardError, syError } from '../../errors.js';
import { Exchange, Phase, type Reply, type RequestBody } from '../../exchange.js';
import { type BodyOwner, EMPTY_BODY, UwsBody } from './body.js';
import { type CopiedRequest, copyRequest, type HeaderLimits } from './request.js';
import {
  invalidBody,
  invalidHeader,
  statusHasBody,
  statusLine,
  wantsClose,
  writeHeaders,
} from './respond.js';

/** Bodies up to this size are written with one `end()`; larger ones with tryEnd/onWritable. */
const END_AT_ONCE = 64 * 1024;
/**
 * Largest piece handed to one chunked `write()`. uWS buffers a whole piece, so they are small; and
 * a piece must fit, with its chunk-size line (and, on the first write, the Date and
 * Transfer-Encoding lines), in uWS's 16 KiB cork buffer. A piece that does not fit makes uWS flush
 * the size line first, and when the kernel cannot take even that, this build (AsyncSocket::uncork,
 * fixed upstream later) returns without writing the piece: its bytes are lost and the client sees
 * a broken chunk ("Expected LF after chunk data"; found by test/hardening under load, 1 stream in
 * 50–100 with slow readers). A piece that fits is buffered whole, and the next write reports the
 * backpressure.
 */
const WRITE_CHUNK = 16 * 1024 - 256;
/**
 * Pieces written in a row without waiting for the socket, before a stream lets the event loop run
 * (`setImmediate`). A body source that never waits (it yields from memory, or yields empty pieces)
 * to a socket that always takes more kept the loop in microtasks: no timer, no abort, no other
 * connection, not even SIGTERM (found by the fuzzer: `/stream?chunk=0` yields empty chunks
 * forever and hung the server).
 */
const YIELD_EVERY = 64;

function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

const RESOLVED = Promise.resolve();
const NOOP = (): void => {};

/** Hooks the engine gives every exchange. */
export interface EngineHooks {
  limits: HeaderLimits;
  /** read the peer address of every request up front (the access log needs it after the response) */
  eagerAddress: boolean;
  /** log a response that could not be written as asked (bad header, stream failure) */
  onWriteError(ex: UwsExchange, err: SwitchyardError | Error): void;
}

// --- normalising peer addresses (uWS gives uncompressed IPv4-mapped IPv6) ---
const addressCache = new Map<string, string>();
const decoder = new TextDecoder('latin1');

function normaliseAddress(raw: string): string {
  let a = addressCache.get(raw);
  if (a !== undefined) return a;
  a = raw;
  if (raw.startsWith('0000:0000:0000:0000:0000:ffff:') && raw.length === 39) {
    const hi = Number.parseInt(raw.slice(30, 34), 16);
    const lo = Number.parseInt(raw.slice(35, 39), 16);
    a = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
  } else if (raw.includes(':')) {
    a = raw
      .split(':')
      .map((p) => p.replace(/^0+(?=.)/, ''))
      .join(':')
      .toLowerCase();
  }
  if (addressCache.size > 4096) addressCache.clear();
  addressCache.set(raw, a);
  return a;
}

function peerAddress(res: HttpResponse): string {
  return normaliseAddress(decoder.decode(res.getRemoteAddressAsText()));
}

/**
 * A reply body we will not write (HEAD, 204/304, a refused reply): let its source go — an
 * undici body holds a pooled upstream connection, a generator its `finally` cleanup.
 */
function releaseBody(body: unknown): void {
  if (body === null || typeof body !== 'object' || !(Symbol.asyncIterator in body)) return;
  const it = (body as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  it.return?.()?.catch(NOOP);
}

// One reused record for copyRequest (the copy is synchronous and never nested).
const copied: CopiedRequest = { headers: [], host: '', close: false, declared: 0, problem: undefined };

// Module-level state for corked writes, so `cork` needs no closure per request.
let corkEx: UwsExchange;
let corkReply: Reply;
let corkBody: string | Uint8Array;
let corkClose = false;

function writeWholeCorked(): void {
  const ex = corkEx;
  const reply = corkReply;
  const res = ex.res;
  const status = reply.status;
  // uWS writes "200 OK" itself when no status was set: one native call less on the common path.
  if (status !== 200) res.writeStatus(statusLine(status)!);
  writeHeaders(res, reply.headers);
  const body = corkBody;
  if (!statusHasBody(status)) {
    endHead(res, undefined, corkClose);
  } else if (ex.method === 'HEAD') {
    endHead(res, typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength, corkClose);
  } else {
    res.end(body, corkClose);
    ex.bytesOut = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  }
}

/**
 * End a response that has no body (HEAD, 204, 304). Only the argument-less `endWithoutBody()` is
 * safe in this build: any argument makes uWS add its own Content-Length (2^63 for `undefined`,
 * which hangs the client). So Content-Length is written by hand, and for 204/304 `close` can only
 * be asked for with the header (the response object is gone once ended, so we cannot close the
 * socket; a Content-Length is forbidden there). A HEAD answer that must close is ended with
 * `endWithoutBody(0, true)` instead: `Content-Length: 0`, but uWS closes the connection. With the
 * header alone it stayed open, and after a refused HEAD with conflicting lengths the next read was
 * parsed as a request (found by conformance "HEAD with differing Content-Length, then …").
 */
function endHead(res: HttpResponse, length: number | undefined, close: boolean): void {
  if (close && length !== undefined) {
    res.endWithoutBody(0, true);
    return;
  }
  if (length !== undefined) res.writeHeader('content-length', String(length));
  if (close) res.writeHeader('connection', 'close');
  res.endWithoutBody();
}

function writeHeadCorked(): void {
  const ex = corkEx;
  const res = ex.res;
  if (corkReply.status !== 200) res.writeStatus(statusLine(corkReply.status)!);
  writeHeaders(res, corkReply.headers);
}

/**
 * The head of a streamed reply that must close (drain, an unread request body, the reply asks).
 * In this build the close cannot be left to the end: `end(…, true)` after `write()` puts a
 * `Connection: close` line into the chunked body (the client sees a broken chunk), and once
 * `tryEnd` has completed a response `res.close()` throws. So the head says it, and the client
 * closes (or uWS's idle timer does). Found by the fuzzer (test/fuzz).
 */
function writeClosingHeadCorked(): void {
  writeHeadCorked();
  corkEx.res.writeHeader('connection', 'close');
}

export class UwsExchange extends Exchange implements BodyOwner {
  readonly res: HttpResponse;
  readonly body: RequestBody;
  private readonly hooks: EngineHooks;
  // streaming state
  private waiter: (() => void) | undefined = undefined;
  private pending: Buffer | undefined = undefined;
  private pendingOffset = 0;
  private total = 0;
  /** the write of a closing reply, waiting one loop turn (see `sendLater`) */
  private later: Promise<void> | undefined = undefined;

  static accept(res: HttpResponse, req: HttpRequest, hooks: EngineHooks): UwsExchange {
    const method = req.getCaseSensitiveMethod();
    const url = req.getUrl();
    const query = req.getQuery() ?? '';
    copyRequest(req, url.length + query.length, hooks.limits, copied);
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
      const err = syError('SY_ERR_CLIENT_GONE');
      if (this.body instanceof UwsBody) this.body.fail(err);
      this.cancel(err);
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w();
    }
  }

  /** BodyOwner: the body cap was crossed. Answer 413 now (and close: we stop reading). */
  overLimit(err: SwitchyardError): void {
    this.closeAfter = true;
    this.errorCode = err.code;
    this.cancel(err);
    void this.send(errorReply(err, false));
  }

  close(): void {
    if (this.phase === Phase.Closed) return;
    const wasDone = this.phase === Phase.Done;
    this.phase = Phase.Closed;
    if (!wasDone) this.res.close();
    this.wake();
  }

  /** Is the request body still arriving? Then we must close after answering (we will not read it). */
  private bodyUnread(): boolean {
    const b = this.body;
    return b instanceof UwsBody && !b.complete;
  }

  send(reply: Reply): Promise<void> {
    if (this.later !== undefined) return this.later;
    if (this.phase !== Phase.Open) return RESOLVED;
    // Not an object at all (a handler returned undefined, a string …): an invalid reply.
    if (typeof reply !== 'object' || reply === null) reply = { status: Number.NaN, body: undefined };
    // A length that is not a byte count (-1, NaN, 1.5) wrote a head without its Content-Length and
    // left the response hanging (found by the fuzzer: `GET /stream?bytes=-1&known=1`).
    const invalid =
      statusLine(reply.status) === undefined
        ? `invalid status ${String(reply.status)}`
        : reply.length !== undefined && !(Number.isSafeInteger(reply.length) && reply.length >= 0)
          ? `invalid length ${String(reply.length)}`
          : invalidBody(reply.body)
            ? `invalid body of type ${typeof reply.body}`
            : undefined;
    const bad = invalid === undefined ? invalidHeader(reply.headers) : undefined;
    if (invalid !== undefined || bad !== undefined) {
      const err =
        invalid !== undefined
          ? syError('SY_ERR_BAD_REPLY', invalid)
          : syError('SY_ERR_BAD_RESPONSE_HEADER', `invalid value or name in response header "${bad}"`);
      this.hooks.onWriteError(this, err);
      this.errorCode = err.code;
      releaseBody(reply.body);
      reply = {
        status: err.status,
        headers: { 'content-type': 'text/plain; charset=utf-8' },
        body: `${err.reason} (${err.code})\n`,
      };
    }
    this.status = reply.status;
    const close = this.closeAfter || this.bodyUnread() || wantsClose(reply.headers);
    return close ? this.sendLater(reply) : this.write(reply, false);
  }

  /**
   * A reply that closes the connection is written one loop turn later. uWS (20.30) forgets a
   * response's `Connection: close` when another request follows in the same read, and dispatches
   * that request too: a request we refuse as malformed (differing Content-Length, …) could carry
   * a second one straight to a track and the upstream (found by conformance "a refusal, then a
   * request in the same read"). Still unanswered when uWS parses the pipelined request, ours is
   * pending, and uWS then closes the connection instead (neither is answered). Microtasks run
   * between two pipelined requests; `setImmediate` does not.
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
      corkEx = this;
      corkReply = reply;
      corkBody = whole;
      corkClose = close;
      this.res.cork(writeWholeCorked);
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
    corkEx = this;
    corkReply = reply;
    this.res.cork(() => {
      writeHeadCorked();
      endHead(this.res, statusHasBody(reply.status) ? length : undefined, close);
    });
    this.phase = close ? Phase.Closed : Phase.Done;
    const it =
      Symbol.asyncIterator in body ? (body as AsyncIterable<unknown>)[Symbol.asyncIterator]() : undefined;
    it?.return?.()?.catch(NOOP);
  }

  private onWritable = (offset: number): boolean => {
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
      // platform.md: while an onWritable handler is set uWS does not drain its own buffer.
      this.res.cork(NOOP);
    }
    this.wake();
    return true;
  };

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
    corkEx = this;
    corkReply = reply;
    // an empty body ends with `end('', close)`, which closes properly: no header of ours then
    this.res.cork(close && total > 0 ? writeClosingHeadCorked : writeHeadCorked);
    this.phase = Phase.Streaming;
    this.total = total;
    this.res.onWritable(this.onWritable);
    let sent = 0;
    let run = 0;
    try {
      if (total === 0) {
        this.res.cork(() => this.res.end('', close));
      } else {
        for await (const piece of body) {
          if (this.phase !== Phase.Streaming) return;
          const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
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
    corkEx = this;
    corkReply = reply;
    this.res.cork(close ? writeClosingHeadCorked : writeHeadCorked);
    this.phase = Phase.Streaming;
    this.res.onWritable(this.onWritable);
    let sent = 0;
    let run = 0;
    try {
      for await (const piece of body) {
        if (this.phase !== Phase.Streaming) return;
        const chunk = typeof piece === 'string' ? Buffer.from(piece) : piece;
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

  /** The body source failed mid-response: the status is out, so the only honest move is to close. */
  private streamFailed(err: unknown): void {
    if (this.phase === Phase.Closed) return;
    const e = err instanceof Error ? err : new Error(String(err));
    this.errorCode ??= (e as { code?: string }).code ?? 'SY_ERR_STREAM';
    this.hooks.onWriteError(this, e);
    this.close();
  }
}

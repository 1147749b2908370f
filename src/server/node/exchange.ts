/**
 * The node:http / node:http2 side of an Exchange. One class serves both: node:http2's
 * compatibility API gives HTTP/2 streams the same request/response shape as node:http.
 *
 * Writing: a whole body goes out with one `end()` and our own Content-Length (node would
 * otherwise chunk it once the head is written); an iterable body streams with backpressure —
 * `write()` returning false waits for 'drain' — chunked (HTTP/1.1), close-delimited (HTTP/1.0,
 * node's doing) or in DATA frames (HTTP/2), or with Content-Length when the length is known.
 * HEAD gets Content-Length and no body, 204/304 neither. A failure after the head destroys the
 * response (HTTP/1: the connection; HTTP/2: RST_STREAM), so a cut response never looks complete.
 * node writes Date itself; Connection, Keep-Alive and Transfer-Encoding are its framing
 * (reply-rules' `isFraming`), and on HTTP/2 every connection-specific field is dropped (RFC 9113
 * §8.2.2: a response carrying one is malformed).
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { errorReply, type SwitchyardError, syError } from '../../errors.js';
import { Phase, type Reply, type ReplyHeaders, type RequestBody } from '../../exchange.js';
import { normaliseAddress } from '../../http/address.js';
import { EngineExchange, nextTurn, pieceBytes, RESOLVED, YIELD_EVERY } from '../../http/engine-exchange.js';
import { isFraming, releaseBody, statusHasBody, wantsClose } from '../../http/reply-rules.js';
import type { CopiedRequest, HeaderLimits } from '../../http/request-checks.js';
import { type BodyOwner, EMPTY_BODY, NodeBody, type NodeRequest } from './body.js';
import type { Conn } from './conn.js';
import { cutByRequestTimeout } from './h2.js';
import { copyRequest, splitTarget, type Target } from './request.js';

export type NodeResponse = ServerResponse | Http2ServerResponse;

/** What the engine gives every exchange. */
export interface NodeHooks {
  /** the listener serves TLS */
  secure: boolean;
  limits: HeaderLimits;
  eagerAddress: boolean;
  onWriteError(ex: NodeExchange, err: SwitchyardError | Error): void;
  /** ms a client may take nothing of a response before it is closed */
  sendTimeout: number;
}

/** Whole bodies larger than this may sit in node's buffer: watched by the send timeout. */
const WATCH_WHOLE = 64 * 1024;

/**
 * node:http holds a written head until the first body byte: a stream whose source is slow to give
 * one (or gives only empty pieces) must still show the client its head, as uWS does. Run at the end
 * of the turn the stream started in, so a first chunk ready at once still goes out with the head
 * (test/engines/node.test.ts 'a stream whose source gives no byte yet').
 */
function flushHead(ex: NodeExchange): void {
  if (ex.phase === Phase.Streaming && ex.bytesOut === 0) (ex.res as ServerResponse).flushHeaders();
}

/** RFC 9113 §8.2.2: connection-specific fields (beyond reply-rules' framing) never go in HTTP/2. */
function h2Forbidden(lower: string): boolean {
  return lower === 'upgrade' || lower === 'proxy-connection' || lower === 'http2-settings' || lower === 'te';
}

const NON_ASCII = /[^\x00-\x7f]/;
/** set by `outgoing` when a value was re-spelled by `wire` (then a string body must go as bytes) */
let highHeader = false;

/**
 * Reply values are text and go on the wire as UTF-8 (as uWS writes them); node:http writes a
 * string's chars as bytes (latin1) and refuses chars above 0xff, so non-ASCII text is handed to it
 * as the latin1 spelling of its UTF-8 bytes.
 */
function wire(v: string): string {
  if (!NON_ASCII.test(v)) return v;
  highHeader = true;
  return Buffer.from(v, 'utf8').toString('latin1');
}

/** A validated reply's fields, lower-cased and merged, without the fields the engine owns. */
function outgoing(headers: ReplyHeaders | undefined, h2: boolean): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  highHeader = false;
  if (headers === undefined) return out;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const lower = name.toLowerCase();
    if (isFraming(lower) || (h2 && h2Forbidden(lower))) continue;
    const value = typeof v === 'number' ? String(v) : typeof v === 'string' ? wire(v) : v.map(wire);
    const prev = out[lower];
    out[lower] = prev === undefined ? value : ([] as string[]).concat(prev as string | string[], value);
  }
  return out;
}

// One reused record for copyRequest (synchronous, never nested).
const copied: CopiedRequest = { headers: [], host: '', close: false, declared: 0, problem: undefined };
const target: Target = { path: '', query: '', authority: undefined };

export class NodeExchange extends EngineExchange implements BodyOwner {
  readonly req: NodeRequest;
  readonly res: NodeResponse;
  readonly body: RequestBody;
  protected readonly hooks: NodeHooks;
  private readonly h2: boolean;
  /** HTTP/1 connection state (pipelining order, closing); undefined on HTTP/2 */
  private readonly conn: Conn | undefined;
  private expectContinue: boolean;

  static accept(req: NodeRequest, res: NodeResponse, hooks: NodeHooks, conn: Conn | undefined): NodeExchange {
    splitTarget(req.url ?? '', target);
    copyRequest(req, target, hooks.limits, copied);
    const address = hooks.eagerAddress ? normaliseAddress(req.socket?.remoteAddress ?? '') : undefined;
    return new NodeExchange(req, res, address, hooks, conn);
  }

  private constructor(
    req: NodeRequest,
    res: NodeResponse,
    address: string | undefined,
    hooks: NodeHooks,
    conn: Conn | undefined,
  ) {
    super(req.method ?? 'GET', target.path, target.query, copied.headers, address);
    this.req = req;
    this.res = res;
    this.hooks = hooks;
    this.conn = conn;
    this.h2 = req.httpVersionMajor === 2;
    this.host = copied.host;
    this.problem = copied.problem;
    // RFC 9112 §9.6: after the client's close, no later request on the connection is processed.
    if (copied.close && !this.h2) {
      this.closeAfter = true;
      conn?.close();
    }
    this.expectContinue =
      copied.problem === undefined && this.header('expect')?.toLowerCase() === '100-continue';
    // HTTP/2 frames a body by DATA frames and END_STREAM: Content-Length is optional (RFC 9113
    // §8.1.1), so a stream still open after its headers has a body of unknown length.
    const declared =
      this.h2 &&
      copied.declared === 0 &&
      !(req as Http2ServerRequest).stream.endAfterHeaders &&
      this.header('content-length') === undefined
        ? -1
        : copied.declared;
    this.body =
      declared !== 0 && copied.problem === undefined ? new NodeBody(req, declared, this) : EMPTY_BODY;
    res.on('close', this.onClose);
    if (conn !== undefined) conn.current = this;
  }

  /**
   * Conn: llhttp failed on bytes after this request's head. If they were its body, the request
   * fails with `err` (400, and the connection closes) and true is returned; otherwise the bytes
   * were a later request and the engine refuses them itself.
   */
  failBody(err: SwitchyardError): boolean {
    const b = this.body;
    if (!(b instanceof NodeBody) || b.complete) return false;
    this.closeAfter = true;
    this.errorCode ??= err.code;
    this.cancel(err);
    b.fail(err);
    return true;
  }

  protected readAddress(): string {
    return normaliseAddress(this.req.socket?.remoteAddress ?? '');
  }

  /** The response closed: after our end(), or the client (connection or HTTP/2 stream) went away first. */
  private onClose = (): void => {
    // (node:http2's response says writableFinished after a reset too: our phase is the truth)
    if (this.h2 && cutByRequestTimeout((this.req as Http2ServerRequest).stream)) this.timedOut();
    else this.clientGone();
    this.conn?.finished();
  };

  /**
   * The client went away before the answer was out: nothing more is written, the request is
   * cancelled and a waiting body reader fails. Conn calls it at once when llhttp sees the client
   * close mid-request, before node's 'close' — otherwise the cancelled track's error answer would
   * count as written (test/engines/node.test.ts 'a client that leaves mid-upload').
   */
  clientGone(): void {
    if (this.phase === Phase.Open || this.phase === Phase.Streaming) {
      this.phase = Phase.Closed;
      this.closedBy ??= 'client';
      const err = syError('SY_ERR_CLIENT_GONE');
      this.cancel(err);
      if (this.body instanceof NodeBody) this.body.fail(err);
    }
    this.wake();
  }

  /** request_timeout expired before the request was answered: the server cuts it, not the client. */
  timedOut(): void {
    if (this.phase === Phase.Open || this.phase === Phase.Streaming) this.closedBy ??= 'server';
    this.clientGone();
  }

  /** 'drain': the socket takes more. */
  private onDrain = (): void => {
    this.wake();
  };

  /** BodyOwner: the body is wanted; answer `Expect: 100-continue` now (once). */
  continueOnce(): void {
    if (!this.expectContinue) return;
    this.expectContinue = false;
    if (this.phase === Phase.Open) this.res.writeContinue();
  }

  protected destroyConnection(): void {
    this.res.destroy();
  }

  send(reply: Reply): Promise<void> {
    if (this.phase !== Phase.Open) {
      if (this.phase === Phase.Closed) releaseBody((reply as Reply | null)?.body);
      return RESOLVED;
    }
    reply = this.checked(reply);
    const close = this.closeAfter || this.bodyUnread() || wantsClose(reply.headers);
    if (close) {
      this.conn?.close();
      if (!this.h2) this.closedBy ??= 'server';
    }
    return this.write(reply, close);
  }

  /** Write the head; false (after answering 500) when node refuses a field value. */
  private head(reply: Reply, close: boolean, length: number | undefined): boolean {
    const h = outgoing(reply.headers, this.h2);
    if (length !== undefined && statusHasBody(reply.status)) h['content-length'] = length;
    if (close && !this.h2) h.connection = 'close';
    try {
      this.res.writeHead(reply.status, h);
      this.status = reply.status;
      return true;
    } catch (err) {
      // node refuses control bytes reply-rules lets through (e.g. \x01 in a value)
      const e = syError('SY_ERR_BAD_RESPONSE_HEADER', (err as Error).message, { cause: err });
      this.hooks.onWriteError(this, e);
      this.errorCode = e.code;
      releaseBody(reply.body);
      if (!this.res.headersSent) {
        const r = errorReply(e, false);
        this.res.writeHead(r.status, outgoing(r.headers, this.h2));
        this.status = r.status;
        this.res.end(r.body as string);
        this.phase = Phase.Done;
      }
      return false;
    }
  }

  private write(reply: Reply, close: boolean): Promise<void> {
    if (NodeExchange.wantsFirstPiece(reply, this.method))
      return this.firstPiece(reply).then((r) => (r === undefined ? undefined : this.write(r, close)));
    const body = reply.body;
    if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array) {
      const whole = body ?? '';
      const length = typeof whole === 'string' ? Buffer.byteLength(whole) : whole.byteLength;
      if (!this.head(reply, close, length)) return RESOLVED;
      if (this.method === 'HEAD' || !statusHasBody(reply.status) || length === 0) this.res.end();
      else {
        // node:http sends a string body in one write with the head, as UTF-8: a head with
        // re-spelled (latin1) values would be encoded twice (test/responses.test.ts 'non-ASCII')
        this.res.end(highHeader && typeof whole === 'string' ? Buffer.from(whole) : whole);
        this.bytesOut = length;
        if (length > WATCH_WHOLE && !this.res.writableFinished) this.watchFinish();
      }
      this.phase = Phase.Done;
      return RESOLVED;
    }
    if (this.method === 'HEAD' || !statusHasBody(reply.status)) {
      if (this.head(reply, close, reply.length)) this.res.end();
      this.phase = Phase.Done;
      releaseBody(body);
      return RESOLVED;
    }
    return this.stream(reply, body, close);
  }

  /**
   * Wait for 'drain' (or the client going away). A client that takes nothing for the send timeout
   * is gone: the request is cancelled and the connection closed (as nginx's send_timeout).
   */
  private async waitDrain(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await new Promise<void>((resolve) => {
      this.waiter = resolve;
      timer = setTimeout(this.stalled, this.hooks.sendTimeout);
    });
    clearTimeout(timer);
  }

  private stalled = (): void => {
    if (this.phase !== Phase.Streaming) return;
    const err = syError('SY_ERR_CLIENT_GONE', `nothing taken for ${this.hooks.sendTimeout} ms`);
    this.errorCode ??= err.code;
    this.cancel(err);
    this.close();
  };

  /** A large whole body handed to node: close the connection if it is not taken in time. */
  private watchFinish(): void {
    const res = this.res;
    const timer = setTimeout(() => {
      if (!res.writableFinished) res.destroy();
    }, this.hooks.sendTimeout);
    timer.unref();
    res.once('close', () => clearTimeout(timer));
  }

  /** Stream an iterable body: with Content-Length when `reply.length` is given, else chunked. */
  private async stream(
    reply: Reply,
    body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array | string>,
    close: boolean,
  ): Promise<void> {
    const total = reply.length;
    if (!this.head(reply, close, total)) return;
    this.phase = Phase.Streaming;
    setImmediate(flushHead, this);
    const res = this.res;
    res.on('drain', this.onDrain);
    let sent = 0;
    let run = 0;
    try {
      for await (const piece of body) {
        if (this.phase !== Phase.Streaming) return;
        const chunk = pieceBytes(piece);
        if (chunk.byteLength === 0) {
          if (++run >= YIELD_EVERY) {
            run = 0;
            await nextTurn();
          }
          continue;
        }
        if (total !== undefined && sent + chunk.byteLength > total)
          throw syError('SY_ERR_STREAM', `body longer than its length ${total}`);
        sent += chunk.byteLength;
        this.bytesOut = sent;
        if (!(res as ServerResponse).write(chunk)) {
          await this.waitDrain();
          run = 0;
        } else if (++run >= YIELD_EVERY) {
          run = 0;
          await nextTurn();
        }
      }
      if (this.phase !== Phase.Streaming) return;
      if (total !== undefined && sent < total)
        throw syError('SY_ERR_STREAM', `body ended after ${sent} of ${total} bytes`);
      res.end();
      this.phase = Phase.Done;
    } catch (err) {
      this.streamFailed(err);
    } finally {
      res.removeListener('drain', this.onDrain);
    }
  }
}

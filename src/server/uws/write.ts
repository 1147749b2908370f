/**
 * Writing a whole reply, or a streamed reply's head, with uWS. Every write happens inside
 * `res.cork(fn)`; the state `fn` needs is passed through module-level variables (`corkFor`) so
 * that no closure is allocated per request (cork runs `fn` synchronously and is never nested).
 */

import type { HttpResponse } from 'uWebSockets.js';
import { Buffer } from 'node:buffer';
import type { Reply } from '../../exchange.js';
import { statusHasBody, statusLine } from '../../http/reply-rules.js';
import { writeHeaders } from './respond.js';

/** What a corked write needs of its exchange. */
export interface CorkTarget {
  readonly res: HttpResponse;
  readonly method: string;
  bytesOut: number;
}

// Module-level state for corked writes, so `cork` needs no closure per request.
let corkEx: CorkTarget;
let corkReply: Reply;
let corkBody: string | Uint8Array;
let corkClose = false;

/**
 * True while uWS runs the engine's request handler: uWS corks the socket around every data
 * callback it dispatches (the request handler among them), so a write made synchronously inside
 * it is corked already, and `res.cork(fn)` would only add a native call and a call back into
 * JavaScript. Outside it (after an await, from undici's callbacks, a timer) writes must be corked
 * by us, or uWS sends each piece in a syscall of its own.
 */
let inHandler = false;

/** Run `fn` with the handler's cork marked (the engine wraps its request handler in this). */
export function insideHandler<A>(fn: (a: A) => void, a: A): void {
  inHandler = true;
  try {
    fn(a);
  } finally {
    inHandler = false;
  }
}

/** Run a write corked: directly inside the request handler, else through `res.cork`. */
export function corked(res: HttpResponse, fn: () => void): void {
  if (inHandler) fn();
  else res.cork(fn);
}

/** Set what the next corked write is for. */
export function corkFor(ex: CorkTarget, reply: Reply, body: string | Uint8Array = '', close = false): void {
  corkEx = ex;
  corkReply = reply;
  corkBody = body;
  corkClose = close;
}

export function writeWholeCorked(): void {
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
 * `endWithoutBody(0, true)` instead: `Content-Length: 0`, and uWS closes the connection; with the
 * header alone it stays open, and after a refused HEAD the next read would be parsed as a request
 * (docs/uws.md; test/conformance.test.ts 'HEAD with differing Content-Length (0 and 41), then …').
 */
export function endHead(res: HttpResponse, length: number | undefined, close: boolean): void {
  if (close && length !== undefined) {
    res.endWithoutBody(0, true);
    return;
  }
  if (length !== undefined) res.writeHeader('content-length', String(length));
  if (close) res.writeHeader('connection', 'close');
  res.endWithoutBody();
}

export function writeHeadCorked(): void {
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
 * closes (or uWS's idle timer does) (test/hardening/regressions.test.ts 'a streamed %s reply that
 * must close is well framed and says so in its head').
 */
export function writeClosingHeadCorked(): void {
  writeHeadCorked();
  corkEx.res.writeHeader('connection', 'close');
}

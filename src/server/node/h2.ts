/**
 * HTTP/2 servers (node:http2): over TLS with ALPN `h2` and `http/1.1` (`allowHTTP1`: HTTP/1.1
 * clients on the same port get node:http's request objects), or cleartext with prior knowledge
 * (`h2c`). Requests arrive through the compatibility API, so one Exchange class serves both.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  constants,
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Session,
  type Http2Stream,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import type { HeaderLimits } from '../../http/request-checks.js';
import type { EngineTimeouts } from '../engine.js';

type OnRequest = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

/** Streams open on a session: one with any is not idle, however long its answers take. */
const OPEN = Symbol('open streams');
type Counted = Http2Session & { [OPEN]?: number };

/** Streams the server reset because their request did not arrive within request_timeout. */
const cut = new WeakSet<Http2Stream>();

/** Was this stream reset by request_timeout (the access log's `closed_by: server`)? */
export function cutByRequestTimeout(stream: Http2Stream): boolean {
  return cut.has(stream);
}

/** What node:http's connection listener reads from the server it serves (HTTP/1.1 over TLS). */
interface Http1Settings {
  headersTimeout: number;
  requestTimeout: number;
  keepAliveTimeout: number;
  connectionsCheckingInterval: number;
  maxHeaderSize: number;
}

export function http2Server(
  tls: TlsOptions | undefined,
  limits: HeaderLimits,
  timeouts: EngineTimeouts,
  onRequest: OnRequest,
): Http2Server | Http2SecureServer {
  const common = {
    // header list size as HTTP/2 counts it (RFC 9113 §6.5.2): our checks count precisely after
    maxHeaderListSize: limits.headerBytes + limits.uri + 1024,
    settings: { maxHeaderListSize: limits.headerBytes + limits.uri + 1024 },
  };
  const server =
    tls !== undefined
      ? createSecureServer({ ...tls, ...common, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] })
      : createServer(common);
  // A failed or timed-out TLS handshake closes the connection. node:http2 hands it on as a
  // 'clientError' and then leaves the socket open to whoever listens there (the engine does, for
  // HTTP/1 parse errors): a silent client would hold it forever. Test: no-request.test.ts "counts by reason".
  if (tls !== undefined) {
    server.prependListener('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
    // HTTP/1.1 clients (allowHTTP1) are served by node:http's connection listener, which reads
    // these from the server object, as on the engine's plain HTTP/1 server: otherwise node's
    // defaults apply (head 60 s checked every 30 s, no keep-alive timeout, 16 KiB of head).
    const h1 = server as unknown as Http1Settings;
    h1.headersTimeout = timeouts.header;
    h1.requestTimeout = timeouts.request;
    h1.keepAliveTimeout = timeouts.keepAlive;
    h1.connectionsCheckingInterval = Math.max(100, Math.min(timeouts.header, timeouts.request) / 10);
    h1.maxHeaderSize = limits.headerBytes + limits.uri + 1024;
  }
  // An HTTP/2 session with no frame and no open stream for this long is closed (as keep-alive on
  // HTTP/1). A stream still open is a request waiting for its answer (a slow handler or upstream),
  // which keep-alive must not cut; a request that stops arriving is cut by request_timeout below.
  // Set on the session, not with server.setTimeout(): that one would also become the idle timeout
  // of every HTTP/1.1 socket, cutting a paused upload at keepalive_timeout, not request_timeout.
  server.on('session', (session: Http2Session) => {
    const idle = (): void => {
      if (((session as Counted)[OPEN] ?? 0) > 0) session.setTimeout(timeouts.keepAlive, idle);
      else session.destroy();
    };
    session.setTimeout(timeouts.keepAlive, idle);
  });
  // request_timeout, as node:http applies it to HTTP/1: the request, head and body, must have
  // arrived within it; a stream whose body stops short is reset by the server (and logged so).
  server.on('stream', (stream: ServerHttp2Stream) => {
    const session = stream.session as Counted | undefined;
    if (session === undefined) return;
    session[OPEN] = (session[OPEN] ?? 0) + 1;
    let timer: NodeJS.Timeout | undefined;
    if (timeouts.request > 0 && !stream.endAfterHeaders) {
      timer = setTimeout(() => {
        if (stream.readableEnded || stream.closed) return;
        cut.add(stream);
        stream.close(constants.NGHTTP2_CANCEL);
      }, timeouts.request);
      timer.unref();
      stream.once('end', () => clearTimeout(timer));
    }
    stream.once('close', () => {
      session[OPEN]!--;
      clearTimeout(timer);
    });
  });
  server.on('request', onRequest as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  return server;
}

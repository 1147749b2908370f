/**
 * HTTP/2 servers (node:http2): over TLS with ALPN `h2` and `http/1.1` (`allowHTTP1`: HTTP/1.1
 * clients on the same port get node:http's request objects), or cleartext with prior knowledge
 * (`h2c`). Requests arrive through the compatibility API, so one Exchange class serves both.
 */

import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  createSecureServer,
  createServer,
  type Http2SecureServer,
  type Http2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
} from 'node:http2';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import type { HeaderLimits } from '../../http/request-checks.js';
import type { EngineTimeouts } from '../engine.js';

type OnRequest = (
  req: IncomingMessage | Http2ServerRequest,
  res: ServerResponse | Http2ServerResponse,
) => void;

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
    // a session with no open stream for this long is closed (as keep-alive on HTTP/1)
  };
  const server =
    tls !== undefined
      ? createSecureServer({ ...tls, ...common, allowHTTP1: true, ALPNProtocols: ['h2', 'http/1.1'] })
      : createServer(common);
  // A failed or timed-out TLS handshake closes the connection. node:http2 hands it on as a
  // 'clientError' and then leaves the socket open to whoever listens there (the engine does, for
  // HTTP/1 parse errors): a silent client would hold it forever. Test: no-request.test.ts "counts by reason".
  if (tls !== undefined)
    server.prependListener('tlsClientError', (_err: Error, socket: Duplex) => socket.destroy());
  server.setTimeout(timeouts.keepAlive);
  server.on('request', onRequest as (req: Http2ServerRequest, res: Http2ServerResponse) => void);
  return server;
}

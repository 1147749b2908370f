/**
 * Which of a node server's connections closed without a complete request, and why (the counting
 * and the log line: src/observe/no-request.ts). A connection is watched from the moment it can
 * carry a request — a TCP connection on plain HTTP/1, a finished handshake on TLS, an HTTP/2
 * session — and marked when a request arrives on it; one that closes unmarked is counted, with
 * the reason the engine noted (timeout, malformed) or `closed`. A TLS handshake that fails is
 * counted from its error. Attached only when the tally is on: the request path then pays one
 * property write per request.
 */
import type { Server } from 'node:http';
import type { Http2SecureServer, Http2Server, Http2Session } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { NoRequestReason } from '../../observe/no-request.js';

const kWatch = Symbol('switchyard.noRequest');

interface Watch {
  requested: boolean;
  reason: NoRequestReason | undefined;
}

type Watched = object & { [kWatch]?: Watch };

/** A request arrived on this connection (an HTTP/1 socket or an HTTP/2 session). */
export function markRequest(conn: object | undefined): void {
  const w = (conn as Watched | undefined)?.[kWatch];
  if (w !== undefined) w.requested = true;
}

/** Why the engine is closing this connection (the first reason noted wins). */
export function markReason(conn: object, reason: NoRequestReason): void {
  const w = (conn as Watched)[kWatch];
  if (w !== undefined) w.reason ??= reason;
}

function watch(conn: Socket | Http2Session, count: (r: NoRequestReason) => void): void {
  const w: Watch = { requested: false, reason: undefined };
  (conn as Watched)[kWatch] = w;
  conn.once('close', () => {
    if (!w.requested) count(w.reason ?? 'closed');
  });
}

/** Why a TLS handshake failed, from node's error. */
function tlsReason(err: Error & { code?: string }): NoRequestReason {
  if (err.code === 'ERR_TLS_HANDSHAKE_TIMEOUT') return 'timeout';
  // the client closed or reset before the handshake finished (a TCP probe on a TLS port)
  if (err.code === 'ECONNRESET' || err.code === 'EPIPE') return 'closed';
  return 'tls';
}

/** Count the connections of `server` (HTTP/1, HTTP/2 over TLS with HTTP/1 fallback, or h2c) that close without a request. */
export function watchNoRequest(
  server: Server | Http2Server | Http2SecureServer,
  count: (r: NoRequestReason) => void,
): void {
  const onSession = (s: Http2Session) => {
    watch(s, count);
    s.once('timeout', () => markReason(s, 'timeout'));
  };
  if ('setSecureContext' in server) {
    // TLS: HTTP/1.1 connections are watched from the handshake, HTTP/2 ones as sessions
    server.on('secureConnection', (s: TLSSocket) => {
      if (s.alpnProtocol !== 'h2') watch(s, count);
    });
    server.on('tlsClientError', (err: Error) => count(tlsReason(err)));
    server.on('session', onSession);
  } else if ('updateSettings' in server) {
    server.on('session', onSession);
  } else {
    (server as Server).on('connection', (s: Socket) => watch(s, count));
  }
  server.on('sessionError', (_err: Error, s: Http2Session) => markReason(s, 'malformed'));
}

/**
 * The Engine interface: what turns connections into Exchanges and writes Replies. The pipeline,
 * the tracks and the logs never know which engine carried a request. An engine owns its
 * listeners; everything engine-neutral (request checks in src/http/request-checks.ts, reply
 * rules in src/http/reply-rules.ts, the one error reply in src/errors.ts) lives outside its folder.
 *
 * Engines are listed in ./engines.ts and loaded on demand, so a platform where one cannot load
 * (the uWS binary on a Node it was not built for) can still run another.
 */
import type { SwitchyardError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { ProxyVersions } from '../http/proxy-header.js';
import type { HeaderLimits } from '../http/request-checks.js';
import type { WsRun } from '../http/websocket.js';
import type { NoRequestReason } from '../observe/no-request.js';
import type { TlsMaterial } from '../tls/load.js';

/** Milliseconds; engines that cannot set them (uWS: fixed ≈ 10 s) say so in their docs. */
export interface EngineTimeouts {
  /** the whole request head must arrive within this */
  header: number;
  /** an idle keep-alive connection is closed after this */
  keepAlive: number;
  /** the whole request (head and body) must arrive within this */
  request: number;
  /** a client that takes nothing of a response for this long is closed (nginx send_timeout) */
  send: number;
}

/** Per listener, beyond the engine's options (TLS is an engine option: one engine per TLS listener). */
export interface ListenOptions {
  /** HTTP/2 over cleartext with prior knowledge (no HTTP/1 on that listener) */
  h2c?: boolean | undefined;
}

export interface EngineOptions {
  limits: HeaderLimits;
  /** read every peer address while the transport still knows it (the access log needs it later) */
  eagerAddress: boolean;
  /**
   * The listener's `chunked_requests`: an engine that cannot parse chunked request bodies safely
   * answers them 411 and closes unless this is `accept`.
   */
  chunkedRequests: 'refuse' | 'accept';
  /** the pipeline: called synchronously for every request */
  handle(ex: Exchange): void;
  /** an upgrade request: the pipeline's `websocket` (engines without WebSockets ignore it) */
  websocket?: (ex: Exchange) => WsRun | undefined;
  /** the largest WebSocket message any route allows: what the engine buffers at most per message */
  websocketMaxMessage?: number;
  /** a response could not be written as asked (bad reply, stream failure): log it */
  onWriteError(ex: Exchange, err: SwitchyardError | Error): void;
  /**
   * Acceptor threads: listen with SO_REUSEPORT so every thread binds the same port (the
   * supervisor has checked the port is free, src/threads/port-guard.ts). Default: exclusive.
   */
  sharedPort?: boolean;
  /** terminate TLS with this material (checked already: src/tls/load.ts); plain HTTP when absent */
  tls?: TlsMaterial | undefined;
  /** header, keep-alive and request timeouts (engines that can set them) */
  timeouts?: EngineTimeouts | undefined;
  /**
   * A connection closed without a complete request (log.no_request_interval): engines that see
   * connections call it once per such connection; absent, they watch nothing.
   */
  onNoRequest?: ((reason: NoRequestReason) => void) | undefined;
  /**
   * PROXY protocol listeners: every request must come from a trusted peer with a PROXY header,
   * whose source address becomes `ex.proxied`; anything else is refused (400, connection closed).
   */
  proxyProtocol?: { trusted(peer: string): boolean; versions: ProxyVersions } | undefined;
}

export interface Address {
  host: string;
  port: number;
}

export interface Engine {
  /** `uws`, `node` …, for logs */
  readonly name: string;
  /** Listen on host:port (0 = any free port). Resolves with the port bound; rejects with ListenError. */
  listen(host: string, port: number, options?: ListenOptions): Promise<number>;
  /** Stop accepting new connections at once; requests on open connections are answered with Connection: close. */
  stopAccepting(): void;
  /** What this engine listens on now. */
  addresses(): Address[];
  /**
   * Close every listener and connection now, without waiting (after a drain, or when an acceptor
   * thread must end: a uWS app with open sockets aborts the process when its thread exits).
   */
  close?(): void;
  /**
   * Stop accepting on one listener (reload removed it); requests in flight on its connections are
   * answered. Optional: an engine without it keeps the listener until restart (the reload says so).
   */
  unlisten?(host: string, port: number): boolean;
  /**
   * Serve new TLS connections with `tls` (a reload re-read the files); connections already open
   * keep the certificate they were made with. Rejects, changing nothing, if it cannot.
   */
  reloadTls?(tls: TlsMaterial): Promise<void>;
}

/** A listener could not be opened (address in use, not available). */
export class ListenError extends Error {
  override readonly name = 'ListenError';
}

/** Why a bind failed, in words an operator can act on. */
export function bindReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'EADDRINUSE':
      return 'address in use';
    case 'EADDRNOTAVAIL':
      return 'no such address on this machine';
    case 'EACCES':
      return 'permission denied: a port below 1024 needs root or CAP_NET_BIND_SERVICE';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found';
    default:
      return err.code ?? err.message;
  }
}

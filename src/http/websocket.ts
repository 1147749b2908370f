/**
 * The engine-neutral shape of a WebSocket connection. An engine that supports upgrades asks the
 * pipeline (`Pipeline.websocket`) whether an upgrade request's route takes WebSockets; if so it
 * runs the returned function before completing the handshake. A track's run resolves to a Reply (a
 * refusal or a 502: answered as plain HTTP, no upgrade) or a `WsAccept`; the pipeline answers the
 * Reply itself, so the engine gets a `WsAccept`, which it turns into a WebSocket whose events it
 * hands to the session `open` returns, or nothing more to do.
 */
import type { Reply } from '../exchange.js';

/**
 * A close code that may be sent in a close frame (RFC 6455 §7.4: 1000–1014 but the reserved 1004,
 * 1005 and 1006; 3000–4999 registered and private).
 */
export function sendableCloseCode(code: number): boolean {
  return (
    Number.isInteger(code) &&
    ((code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
      (code >= 3000 && code <= 4999))
  );
}

/** The client's side, as the engine exposes it to a session. */
export interface WsSocket {
  /** false: the message was queued past the socket buffer; wait for `drain`. */
  send(data: Uint8Array | string, binary: boolean): boolean;
  /** bytes queued for the client */
  buffered(): number;
  /** a close handshake with `code` (omitted: no status) and `reason` (≤ 123 bytes) */
  close(code?: number, reason?: string): void;
  /** cut the connection without a close handshake */
  terminate(): void;
}

/** What the engine calls for one open WebSocket. `data` is the session's own copy. */
export interface WsSession {
  message(data: Buffer, binary: boolean): void;
  /** the client's buffer drained (after `send` returned false) */
  drain(): void;
  /**
   * The connection is gone (close frame received or the socket ended); the socket is unusable.
   * `by`: who closed it first, this server (a session's close, an engine limit, a drain) or the
   * client (its close frame, or the connection lost).
   */
  closed(code: number, reason: string, by: 'client' | 'server'): void | Promise<void>;
}

/**
 * Per-connection limits the engine enforces, set per route (src/tracks/websocket/limits.ts):
 * - `maxMessage` bytes: a larger message from the client closes the connection with 1009 and is
 *   never handed on;
 * - `idle` ms without a message from the client: closed with 1001 (0 = never);
 * - `ping` ms: every period in which nothing came from the client it is pinged; a second silent
 *   period cuts the connection without a close frame (a dead peer; 0 = never);
 * - `maxBackpressure` bytes queued for the client besides the message being sent (so one message
 *   larger than the cap still goes to a client that reads): past it the connection is cut at
 *   once and what is queued is dropped. The session (and the access log) see 1008 "backpressure";
 *   the client gets no close frame (it could only arrive behind the queue) and sees 1006;
 * - `deflate`: permessage-deflate is agreed when the client offers it.
 */
export interface WsLimits {
  readonly maxMessage: number;
  readonly idle: number;
  readonly ping: number;
  readonly maxBackpressure: number;
  readonly deflate: boolean;
}

export interface WsAccept {
  readonly kind: 'websocket';
  /** the subprotocol to answer (`''`: none) */
  readonly protocol: string;
  /** what the engine enforces for this connection */
  readonly limits: WsLimits;
  /** the handshake completed */
  open(socket: WsSocket): WsSession;
  /** the client went away before the handshake completed: release what `accept` holds */
  abandon(): void;
}

/**
 * The pre-handshake work for one upgrade request (the route and exchange are bound in), as the
 * pipeline hands it to the engine: a WsAccept to complete the handshake with, or undefined when
 * the request has been answered as plain HTTP already (a refusal, an error: src/pipeline-ws.ts).
 */
export type WsRun = () => Promise<WsAccept | undefined>;

export function isAccept(r: WsAccept | Reply): r is WsAccept {
  return (r as WsAccept).kind === 'websocket';
}

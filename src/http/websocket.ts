/**
 * The engine-neutral shape of a WebSocket connection. An engine that supports upgrades asks the
 * pipeline (`Pipeline.websocket`) whether an upgrade request's route takes WebSockets; if so it
 * runs the returned function before completing the handshake. The result is either a Reply (a
 * refusal or a 502: answered as plain HTTP, no upgrade) or a `WsAccept`, which the engine turns
 * into a WebSocket whose events it hands to the session `open` returns.
 */
import type { Reply } from '../exchange.js';

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
  /** the connection is gone (close frame received or the socket ended); the socket is unusable */
  closed(code: number, reason: string): void;
}

export interface WsAccept {
  readonly kind: 'websocket';
  /** the subprotocol to answer (`''`: none) */
  readonly protocol: string;
  /** the handshake completed */
  open(socket: WsSocket): WsSession;
  /** the client went away before the handshake completed: release what `accept` holds */
  abandon(): void;
}

/** The pre-handshake work for one upgrade request (the route and exchange are bound in). */
export type WsRun = () => Promise<WsAccept | Reply>;

export function isAccept(r: WsAccept | Reply): r is WsAccept {
  return (r as WsAccept).kind === 'websocket';
}

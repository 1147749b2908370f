/**
 * One in-process WebSocket connection as a route module sees it (`open(ws)`, `message(ws, …)`,
 * `close(ws, …)`): send, close, subscribe/publish, and its scope. The scope is opened when the
 * connection opens; its signal aborts when the connection goes, and the track awaits every task
 * forked in it before the connection is forgotten (test/websocket/routes.test.ts "scope").
 */

import { sendableCloseCode, type WsSocket } from '../../http/websocket.js';
import { openScope, type RequestScope } from '../../runtime/index.js';
import * as hub from './hub.js';

export class WsConnection implements hub.Subscriber {
  /** the client's address (as trusted_proxies resolves it: the peer address) */
  readonly remoteAddress: string;
  /** the subprotocol agreed on, or '' */
  readonly protocol: string;
  /** what `upgrade` returned as `data`, for the module's own use */
  data: unknown;
  readonly scope: RequestScope = openScope();
  private readonly socket: WsSocket;
  private readonly topics = new Set<string>();
  /** set when the connection is gone: sends are dropped */
  closed = false;

  constructor(socket: WsSocket, remoteAddress: string, protocol: string, data: unknown) {
    this.socket = socket;
    this.remoteAddress = remoteAddress;
    this.protocol = protocol;
    this.data = data;
  }

  /** Aborts when the connection closes. */
  get signal(): AbortSignal {
    return this.scope.signal;
  }

  /**
   * Send a message (text for a string, binary otherwise). Returns false when it was queued past
   * the socket buffer; past the connection's backpressure cap the engine closes it.
   */
  send(data: string | Uint8Array): boolean {
    if (this.closed) return false;
    return this.socket.send(data, typeof data !== 'string');
  }

  deliver(data: string | Uint8Array, binary: boolean): boolean {
    if (this.closed) return false;
    return this.socket.send(data, binary);
  }

  /** Bytes queued for the client. */
  get buffered(): number {
    return this.closed ? 0 : this.socket.buffered();
  }

  close(code = 1000, reason = ''): void {
    // as the `ws` package does: a code no close frame may carry is the caller's mistake, not bytes for the wire
    if (!sendableCloseCode(code))
      throw new RangeError(`close code ${code} may not be sent (1000–1014 but 1004–1006, or 3000–4999)`);
    if (this.closed) return;
    this.socket.close(code, reason);
  }

  subscribe(topic: string): void {
    if (this.closed) return;
    this.topics.add(topic);
    hub.subscribe(topic, this);
  }

  unsubscribe(topic: string): void {
    this.topics.delete(topic);
    hub.unsubscribe(topic, this);
  }

  /** Publish to every subscriber of `topic` in this thread, this connection included if subscribed. */
  publish(topic: string, data: string | Uint8Array): number {
    return hub.publish(topic, data);
  }

  /** The connection is gone: leave every topic, cancel the scope. */
  gone(): void {
    this.closed = true;
    for (const t of this.topics) hub.unsubscribe(t, this);
    this.topics.clear();
    this.scope.cancel();
  }
}

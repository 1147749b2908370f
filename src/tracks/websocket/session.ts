/**
 * One open in-process WebSocket: the engine's events become the module's `open` / `message` /
 * `close` calls on a WsConnection.
 *
 * - The route's limits (size, idle, ping, backpressure) are the engine's to enforce (WsLimits):
 *   a message that reaches `message` is within them.
 * - A module function that throws (or rejects) closes that connection with 1011 and is logged;
 *   other connections are untouched.
 * - On close: the connection leaves its topics, its scope is cancelled, `close` runs, and then the
 *   scope is closed — every task forked in it has settled before the connection is forgotten.
 */
import type { Logger } from 'pino';
import type { WsSession, WsSocket } from '../../http/websocket.js';
import { WsConnection } from './connection.js';
import type { WsModule } from './module.js';

export interface SessionOptions {
  remote: string;
  protocol: string;
  data: unknown;
  log: Logger;
  route: string;
}

export function openSession(mod: WsModule, socket: WsSocket, o: SessionOptions): WsSession {
  const conn = new WsConnection(socket, o.remote, o.protocol, o.data);
  const failed = (err: unknown) => {
    o.log.error({ route: o.route, err }, 'websocket handler failed');
    conn.close(1011, 'handler error');
  };
  const call = (fn: () => void | Promise<void>) => {
    try {
      const r = fn();
      if (r instanceof Promise) r.catch(failed);
    } catch (err) {
      failed(err);
    }
  };
  const open = mod.open;
  if (open !== undefined) call(() => open(conn));
  const message = mod.message;
  return {
    message(data, binary) {
      if (conn.closed) return;
      if (message !== undefined) call(() => message(conn, binary ? data : data.toString('utf8'), binary));
    },
    drain() {},
    // Settles once `close` has run and the scope is closed: drain and the access line wait for it.
    async closed(code, reason) {
      conn.gone();
      try {
        await mod.close?.(conn, code, reason);
      } catch (err) {
        o.log.error({ route: o.route, err }, 'websocket close handler failed');
      }
      await conn.scope.close().catch(() => {});
    },
  };
}

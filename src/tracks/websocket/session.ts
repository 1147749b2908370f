/**
 * One open in-process WebSocket: the engine's events become the module's `open` / `message` /
 * `close` calls on a WsConnection.
 *
 * - A message over `maxMessage` closes the connection with 1009 and never reaches the module.
 * - No message for `idle` ms closes it with 1001 (the engine's own idle timeout, with pings, is
 *   the outer bound).
 * - A module function that throws (or rejects) closes that connection with 1011 and is logged;
 *   other connections are untouched.
 * - On close: the connection leaves its topics, its scope is cancelled, `close` runs, and then the
 *   scope is closed — every task forked in it has settled before the connection is forgotten.
 */
import type { Logger } from 'pino';
import type { WsSession, WsSocket } from '../../http/websocket.js';
import { WsConnection } from './connection.js';
import type { WsModule } from './module.js';

export interface SessionLimits {
  /** bytes */
  maxMessage: number;
  /** ms; 0 = never */
  idle: number;
}

export interface SessionOptions {
  remote: string;
  protocol: string;
  data: unknown;
  limits: SessionLimits;
  log: Logger;
  route: string;
}

export function openSession(mod: WsModule, socket: WsSocket, o: SessionOptions): WsSession {
  const conn = new WsConnection(socket, o.remote, o.protocol, o.data);
  const { maxMessage, idle } = o.limits;
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
  const timer = idle > 0 ? setTimeout(() => conn.close(1001, 'idle timeout'), idle) : undefined;
  timer?.unref();
  const open = mod.open;
  if (open !== undefined) call(() => open(conn));
  const message = mod.message;
  return {
    message(data, binary) {
      if (conn.closed) return;
      if (data.length > maxMessage) {
        conn.close(1009, 'message too big');
        return;
      }
      timer?.refresh();
      if (message !== undefined) call(() => message(conn, binary ? data : data.toString('utf8'), binary));
    },
    drain() {},
    closed(code, reason) {
      if (timer !== undefined) clearTimeout(timer);
      conn.gone();
      void (async () => {
        try {
          await mod.close?.(conn, code, reason);
        } catch (err) {
          o.log.error({ route: o.route, err }, 'websocket close handler failed');
        }
        await conn.scope.close().catch(() => {});
      })();
    },
  };
}

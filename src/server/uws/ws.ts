/**
 * WebSockets on the uWS engine: one `app.ws('/*')` behaviour beside the HTTP catch-all. uWS calls
 * `upgrade` for every request carrying `Upgrade: websocket`; we copy the request (the HttpRequest
 * dies when the callback returns), ask the pipeline whether its route takes WebSockets, and
 * either serve it as an ordinary request (`handle`) or run the route's pre-handshake work (the
 * proxy connects to its upstream, a handler's `upgrade` may refuse). That work is async, so
 * `onAborted` is attached first and the handshake is completed later inside `cork` (uWS's
 * UpgradeAsync pattern). A Reply instead of an accept is answered as plain HTTP: no upgrade.
 *
 * Limits are per route (WsLimits, carried by the accept) and enforced here, because one uWS
 * behaviour serves every route: uWS itself only cuts a message past `maxMessage` (a little over
 * the largest any route of the starting config allows: src/tracks/websocket/limits.ts), never drops or
 * closes on backpressure; its own idle timeout and pings are off (src/http/heartbeat.ts does the pings).
 * Deflate is agreed per route by passing the client's offer to `upgrade` or not.
 */

import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { Buffer } from 'node:buffer';
import { asSwitchyardError, errorReply } from '../../errors.js';
import { type Exchange, Phase } from '../../exchange.js';
import { type Beat, Heartbeats } from '../../http/heartbeat.js';
import type { WsAccept, WsLimits, WsRun, WsSession, WsSocket } from '../../http/websocket.js';
import type { EngineHooks } from './exchange.js';
import { UwsExchange } from './exchange.js';
import type { Uws } from './load.js';

/** The engine's cap when the server is built without one (src/tracks/websocket/limits.ts). */
export const WS_ENGINE_MAX_MESSAGE = 128 * 1024;

/**
 * The uWS user data. This build copies the user data's own properties onto the uWS WebSocket and
 * `getUserData()` returns that WebSocket, so a class instance would lose its methods (and `close`
 * would be uWS's own, a cut): the connection object is wrapped.
 */
interface UserData {
  conn: UwsSocket;
}

const BACKPRESSURE = { code: 1008, reason: 'backpressure' };

/** One connection: the socket a session sees, and its heartbeat. */
class UwsSocket implements WsSocket, Beat {
  ws: WebSocket<UserData> | undefined;
  session: WsSession | undefined;
  readonly limits: WsLimits;
  gone = false;
  heard = true;
  pinged = false;
  idleTimer: NodeJS.Timeout | undefined;
  /** why the engine cut the connection, reported instead of uWS's 1006 */
  closedAs: { code: number; reason: string } | undefined;

  constructor(readonly accept: WsAccept) {
    this.limits = accept.limits;
  }

  send(data: Uint8Array | string, binary: boolean): boolean {
    if (this.gone) return false;
    const ws = this.ws!;
    const r = ws.send(data, binary, true); // compress only if deflate was agreed
    if (r === 1) return true;
    // Past the cap besides this message (one message larger than the cap still goes out): cut at
    // once, the queue dropped; a close frame would wait behind it and keep the queue alive
    // (WsLimits.maxBackpressure; test/websocket/limits.test.ts "stops reading").
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (ws.getBufferedAmount() - size > this.limits.maxBackpressure) {
      this.closedAs = BACKPRESSURE;
      this.terminate();
    }
    return false;
  }

  buffered(): number {
    return this.gone ? 0 : this.ws!.getBufferedAmount();
  }

  close(code?: number, reason?: string): void {
    if (this.gone) return;
    this.gone = true;
    // 1005/1006/1015 may not be sent (RFC 6455 §7.4.1): an empty close frame instead.
    if (code === undefined || code === 1005 || code === 1006 || code === 1015) this.ws!.end();
    else this.ws!.end(code, reason ?? '');
  }

  terminate(): void {
    if (this.gone) return;
    this.gone = true;
    this.ws!.close();
  }

  ping(): void {
    if (!this.gone) this.ws!.ping();
  }

  cut(): void {
    this.terminate();
  }
}

/** Register the WebSocket behaviour on `app` (before the HTTP catch-all). */
export function registerWebSockets(
  uws: Uws,
  app: TemplatedApp,
  hooks: EngineHooks,
  maxMessage: number,
  route: (ex: Exchange) => WsRun | undefined,
  handle: (ex: UwsExchange) => void,
): void {
  const beats = new Heartbeats();
  app.ws<UserData>('/*', {
    maxPayloadLength: maxMessage,
    idleTimeout: 0,
    sendPingsAutomatically: false,
    maxBackpressure: 0,
    closeOnBackpressureLimit: 0,
    compression: uws.SHARED_COMPRESSOR,
    upgrade(res, req, context) {
      const key = req.getHeader('sec-websocket-key');
      const extensions = req.getHeader('sec-websocket-extensions');
      const ex = UwsExchange.accept(res, req, hooks);
      const run = route(ex);
      if (run === undefined) {
        handle(ex);
        return;
      }
      ex.watchAbort();
      void run()
        .catch((err: unknown) => {
          // The pipeline answers every failure itself; this is a last guard against a bug there.
          if (ex.phase === Phase.Open) void ex.send(errorReply(asSwitchyardError(err), false));
          return undefined;
        })
        .then((result) => {
          if (result === undefined) return; // answered as plain HTTP
          if (ex.phase !== Phase.Open) {
            result.abandon();
            return;
          }
          ex.phase = Phase.Done;
          const data: UserData = { conn: new UwsSocket(result) };
          const offer = result.limits.deflate ? extensions : '';
          res.cork(() => res.upgrade(data, key, result.protocol, offer, context));
        });
    },
    open(ws) {
      const s = ws.getUserData().conn;
      s.ws = ws;
      const { idle, ping } = s.limits;
      if (idle > 0) {
        s.idleTimer = setTimeout(() => s.close(1001, 'idle timeout'), idle);
        s.idleTimer.unref();
      }
      if (ping > 0) beats.add(ping, s);
      s.session = s.accept.open(s);
    },
    message(ws, message, isBinary) {
      const s = ws.getUserData().conn;
      if (s.gone) return;
      s.heard = true;
      if (message.byteLength > s.limits.maxMessage) {
        s.close(1009, 'message too big');
        return;
      }
      s.idleTimer?.refresh();
      // `message` is valid only during this call: the session gets a copy.
      s.session?.message(Buffer.from(new Uint8Array(message)), isBinary);
    },
    ping(ws) {
      ws.getUserData().conn.heard = true;
    },
    pong(ws) {
      ws.getUserData().conn.heard = true;
    },
    drain(ws) {
      ws.getUserData().conn.session?.drain();
    },
    close(ws, code, message) {
      const s = ws.getUserData().conn;
      const by = s.gone ? 'server' : 'client'; // `gone` is set by every close this side starts
      s.gone = true;
      if (s.idleTimer !== undefined) clearTimeout(s.idleTimer);
      if (s.limits.ping > 0) beats.remove(s.limits.ping, s);
      const as = s.closedAs;
      if (as !== undefined) s.session?.closed(as.code, as.reason, by);
      else s.session?.closed(code, Buffer.from(new Uint8Array(message)).toString('utf8'), by);
    },
  });
}

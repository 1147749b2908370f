/**
 * WebSockets on the uWS engine: one `app.ws('/*')` behaviour beside the HTTP catch-all. uWS calls
 * `upgrade` for every request carrying `Upgrade: websocket`; we copy the request (the HttpRequest
 * dies when the callback returns), ask the pipeline whether its route takes WebSockets, and
 * either serve it as an ordinary request (`handle`) or run the route's pre-handshake work (the
 * proxy connects to its upstream, a handler's `upgrade` may refuse). That work is async, so
 * `onAborted` is attached first and the handshake is completed later inside `cork` (uWS's
 * UpgradeAsync pattern). A Reply instead of an accept is answered as plain HTTP: no upgrade.
 *
 * Limits: messages over `maxPayload` close the connection with 1009 (uWS); past `maxBackpressure`
 * queued for a client the connection is closed, never silently dropped (closeOnBackpressureLimit).
 */
import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { asSwitchyardError, errorReply } from '../../errors.js';
import { type Exchange, Phase } from '../../exchange.js';
import { isAccept, type WsAccept, type WsRun, type WsSession, type WsSocket } from '../../http/websocket.js';
import type { EngineHooks } from './exchange.js';
import { UwsExchange } from './exchange.js';
import type { Uws } from './load.js';

export interface WsLimits {
  /** bytes; a larger message closes the connection with 1009 */
  maxPayload: number;
  /** seconds without traffic before uWS closes (it pings first); 0 = never */
  idleTimeout: number;
  /** bytes queued for one client before it is closed */
  maxBackpressure: number;
  /** per-message deflate (shared compressor) */
  deflate: boolean;
}

export const WS_DEFAULTS: WsLimits = {
  maxPayload: 1024 * 1024,
  idleTimeout: 120,
  maxBackpressure: 1024 * 1024,
  deflate: false,
};

interface UserData {
  accept: WsAccept;
  session: WsSession | undefined;
  socket: UwsSocket | undefined;
}

/** The client's socket as a session sees it; every call after the close is a no-op. */
class UwsSocket implements WsSocket {
  gone = false;
  constructor(private readonly ws: WebSocket<UserData>) {}
  send(data: Uint8Array | string, binary: boolean): boolean {
    if (this.gone) return false;
    return this.ws.send(data, binary, true) === 1;
  }
  buffered(): number {
    return this.gone ? 0 : this.ws.getBufferedAmount();
  }
  close(code?: number, reason?: string): void {
    if (this.gone) return;
    this.gone = true;
    // 1005/1006/1015 may not be sent (RFC 6455 §7.4.1): an empty close frame instead.
    if (code === undefined || code === 1005 || code === 1006 || code === 1015) this.ws.end();
    else this.ws.end(code, reason ?? '');
  }
  terminate(): void {
    if (this.gone) return;
    this.gone = true;
    this.ws.close();
  }
}

/** Register the WebSocket behaviour on `app` (before the HTTP catch-all). */
export function registerWebSockets(
  uws: Uws,
  app: TemplatedApp,
  hooks: EngineHooks,
  limits: WsLimits,
  route: (ex: Exchange) => WsRun | undefined,
  handle: (ex: UwsExchange) => void,
): void {
  app.ws<UserData>('/*', {
    maxPayloadLength: limits.maxPayload,
    idleTimeout: limits.idleTimeout,
    maxBackpressure: limits.maxBackpressure,
    closeOnBackpressureLimit: 1, // a boolean in C++; the typings say number
    compression: limits.deflate ? uws.SHARED_COMPRESSOR : uws.DISABLED,
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
        .catch((err: unknown) => errorReply(asSwitchyardError(err), false))
        .then((result) => {
          if (!isAccept(result)) {
            void ex.send(result);
            return;
          }
          if (ex.phase !== Phase.Open) {
            result.abandon();
            return;
          }
          ex.phase = Phase.Done;
          const data: UserData = { accept: result, session: undefined, socket: undefined };
          res.cork(() => res.upgrade(data, key, result.protocol, extensions, context));
        });
    },
    open(ws) {
      const data = ws.getUserData();
      const socket = new UwsSocket(ws);
      data.socket = socket;
      data.session = data.accept.open(socket);
    },
    message(ws, message, isBinary) {
      // `message` is valid only during this call: the session gets a copy.
      ws.getUserData().session?.message(Buffer.from(new Uint8Array(message)), isBinary);
    },
    drain(ws) {
      ws.getUserData().session?.drain();
    },
    close(ws, code, message) {
      const data = ws.getUserData();
      if (data.socket !== undefined) data.socket.gone = true;
      data.session?.closed(code, Buffer.from(new Uint8Array(message)).toString('utf8'));
    },
  });
}

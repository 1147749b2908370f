/**
 * The uWS engine: the only code that imports uWebSockets.js (with ./load.ts). One App, one
 * catch-all route for every method; each request becomes a UwsExchange and goes to the pipeline
 * synchronously. Routing is ours (the router), not uWS's.
 */
import type { TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import type { SwitchyardError } from '../../errors.js';
import { type Exchange, Phase } from '../../exchange.js';
import { type EngineHooks, UwsExchange } from './exchange.js';
import { isNative, loadUws, type Uws } from './load.js';
import type { HeaderLimits } from './request.js';

export interface EngineOptions {
  limits: HeaderLimits;
  /** the access log is on: read every peer address while the response object is still valid */
  eagerAddress: boolean;
  /** the pipeline: called synchronously for every request */
  handle(ex: Exchange): void;
  onWriteError(ex: Exchange, err: SwitchyardError | Error): void;
}

/** The binary accepts (host, port, options, cb); the bundled typings only know (port, options, cb). */
type ListenFn = (
  host: string,
  port: number,
  options: number,
  cb: (socket: us_listen_socket | false) => void,
) => void;
function listenExclusive(
  app: TemplatedApp,
  host: string,
  port: number,
  options: number,
  cb: (socket: us_listen_socket | false) => void,
): void {
  (app.listen as unknown as ListenFn).call(app, host, port, options, cb);
}

export class ListenError extends Error {
  override readonly name = 'ListenError';
}

export class UwsEngine {
  private readonly uws: Uws;
  private readonly app: TemplatedApp;
  private readonly sockets: us_listen_socket[] = [];
  private draining = false;

  constructor(opts: EngineOptions) {
    this.uws = loadUws();
    this.app = this.uws.App();
    const hooks: EngineHooks = {
      limits: opts.limits,
      eagerAddress: opts.eagerAddress,
      onWriteError: opts.onWriteError,
    };
    const handle = opts.handle;
    this.app.any('/*', (res, req) => {
      const ex = UwsExchange.accept(res, req, hooks);
      if (this.draining) ex.closeAfter = true;
      try {
        handle(ex);
      } catch (err) {
        // A bug in the pipeline must cost one request, never the process.
        opts.onWriteError(ex, err as Error);
        if (ex.phase === Phase.Open)
          void ex.send({ status: 500, body: 'internal server error (SY_ERR_HANDLER)\n' });
      }
      if (ex.phase === Phase.Open || ex.phase === Phase.Streaming) ex.watchAbort();
    });
  }

  /** Listen on host:port (0 = any free port). Resolves with the port actually bound. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const done = (socket: us_listen_socket | false) => {
        if (!socket) {
          reject(new ListenError(`cannot listen on ${host}:${port} (address in use, or not available)`));
          return;
        }
        this.sockets.push(socket);
        resolve(this.uws.us_socket_local_port(socket));
      };
      if (isNative(this.uws)) {
        // LIBUS_LISTEN_EXCLUSIVE_PORT: without it a second process silently shares the port (platform.md).
        const exclusive = (this.uws as unknown as { LIBUS_LISTEN_EXCLUSIVE_PORT: number })
          .LIBUS_LISTEN_EXCLUSIVE_PORT;
        listenExclusive(this.app, host, port, exclusive, done);
      } else {
        this.app.listen(host, port, done); // the JS fallback knows no listen options
      }
    });
  }

  /** Stop accepting new connections; requests on open connections are answered with Connection: close. */
  stopAccepting(): void {
    this.draining = true;
    for (const s of this.sockets.splice(0)) this.uws.us_listen_socket_close(s);
  }
}

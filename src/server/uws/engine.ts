/**
 * The uWS engine: the only code that imports uWebSockets.js (with ./load.ts). One App, one
 * catch-all route for every method; each request becomes a UwsExchange and goes to the pipeline
 * synchronously. Routing is ours (the router), not uWS's.
 */
import type { HttpRequest, HttpResponse, TemplatedApp, us_listen_socket } from 'uWebSockets.js';
import { errorReply, syError } from '../../errors.js';
import { Phase } from '../../exchange.js';
import { claimPort } from '../../threads/port-guard.js';
import type { TlsMaterial } from '../../tls/load.js';
import { type Address, type Engine, type EngineOptions, ListenError } from '../engine.js';
import { type EngineHooks, UwsExchange } from './exchange.js';
import { isNative, loadUws, type Uws } from './load.js';
import { checkProxied } from './proxy-protocol.js';
import { insideHandler } from './write.js';
import { registerWebSockets, WS_ENGINE_MAX_MESSAGE } from './ws.js';

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

/**
 * An SSLApp for `tls`. This build takes file names only (no PEM strings), reads them itself and
 * refuses TLS 1.0/1.1 (probed: alert 70, protocol version); SNI entries are `addServerName`s, a
 * `*.domain` one covering one label, and a name no entry matches gets the main certificate.
 */
function sslApp(uws: Uws, tls: TlsMaterial): TemplatedApp {
  const opts = (p: TlsMaterial['main']) => ({
    cert_file_name: p.certFile,
    key_file_name: p.keyFile,
    ...(p.passphrase === undefined ? {} : { passphrase: p.passphrase }),
    ...(tls.ca === undefined ? {} : { ca_file_name: tls.ca.file }),
  });
  let app: TemplatedApp;
  try {
    app = uws.SSLApp(opts(tls.main));
    for (const { name, pair } of tls.sni) app.addServerName(name, opts(pair));
  } catch (err) {
    // The files were checked (src/tls/load.ts); this is a file changed since, or one OpenSSL refuses.
    throw new ListenError(`TLS setup failed for ${tls.main.certFile}: ${(err as Error).message}`);
  }
  return app;
}

export class UwsEngine implements Engine {
  readonly name = 'uws';
  private readonly uws: Uws;
  private app: TemplatedApp;
  /** apps replaced by `reloadTls`: they still serve the connections they accepted */
  private readonly retired: TemplatedApp[] = [];
  private readonly sockets: { socket: us_listen_socket; host: string; port: number }[] = [];
  private draining = false;
  /** listen with SO_REUSEPORT: acceptor threads share the port, and a TLS app is swapped on reload */
  private readonly sharedPort: boolean;
  private readonly tls: boolean;
  private readonly register: (app: TemplatedApp, tls: TlsMaterial | undefined) => void;

  constructor(opts: EngineOptions) {
    this.sharedPort = opts.sharedPort === true;
    this.tls = opts.tls !== undefined;
    this.uws = loadUws();
    const hooks: EngineHooks = {
      secure: this.tls,
      limits: opts.limits,
      eagerAddress: opts.eagerAddress,
      acceptChunked: opts.chunkedRequests === 'accept',
      onWriteError: opts.onWriteError,
    };
    const handle = opts.handle;
    const pp = opts.proxyProtocol;
    const serve = (ex: UwsExchange): void => {
      if (this.draining) ex.closeAfter = true;
      if (pp !== undefined) checkProxied(ex, ex.res, pp);
      try {
        handle(ex);
      } catch (err) {
        // A bug in the pipeline must cost one request, never the process.
        opts.onWriteError(ex, err as Error);
        if (ex.phase === Phase.Open) void ex.send(errorReply(syError('SY_ERR_HANDLER'), false));
      }
      if (ex.phase === Phase.Open || ex.phase === Phase.Streaming) ex.watchAbort();
    };
    const onRequest = (res: HttpResponse, req: HttpRequest) =>
      insideHandler(serve, UwsExchange.accept(res, req, hooks));
    const websocket = opts.websocket;
    const wsCap = opts.websocketMaxMessage ?? WS_ENGINE_MAX_MESSAGE;
    this.register = (app, tls) => {
      if (websocket !== undefined) registerWebSockets(this.uws, app, hooks, wsCap, websocket, serve);
      app.any('/*', onRequest);
      // Each SNI server name has a router of its own in uWS: without this, its requests get no answer.
      // (WebSockets on SNI names are not registered: README "WebSockets".)
      for (const { name } of tls?.sni ?? []) app.domain(name).any('/*', onRequest);
    };
    this.app = opts.tls === undefined ? this.uws.App() : sslApp(this.uws, opts.tls);
    this.register(this.app, opts.tls);
  }

  /**
   * New certificates (a reload): this build cannot change an SSLApp's main context, so a new app
   * with `tls` listens on the same ports (SO_REUSEPORT, see `listen`) and the old listen sockets
   * close at once; connections the old app accepted finish there. A connection the kernel queued
   * on an old socket since uWS last accepted is reset by that close (Linux without
   * net.ipv4.tcp_migrate_req): README "Reload". Test: test/ops/tls-reload.test.ts.
   */
  async reloadTls(tls: TlsMaterial): Promise<void> {
    if (!isNative(this.uws)) throw new ListenError('the uWS JS fallback cannot swap TLS certificates');
    const app = sslApp(this.uws, tls);
    this.register(app, tls);
    const old = this.sockets.splice(0);
    const opened: typeof this.sockets = [];
    try {
      for (const s of old) {
        const socket = await new Promise<us_listen_socket | false>((r) =>
          listenExclusive(app, s.host, s.port, 0, r),
        );
        if (!socket)
          throw new ListenError(`cannot listen on ${s.host}:${s.port} again with the new certificate`);
        opened.push({ socket, host: s.host, port: s.port });
      }
    } catch (err) {
      for (const s of opened) this.uws.us_listen_socket_close(s.socket);
      (app as unknown as { close(): void }).close();
      this.sockets.push(...old);
      throw err;
    }
    this.sockets.push(...opened);
    this.retired.push(this.app);
    this.app = app;
    for (const s of old) this.uws.us_listen_socket_close(s.socket);
  }

  /** Listen on host:port (0 = any free port). Resolves with the port actually bound. */
  async listen(host: string, port: number): Promise<number> {
    // A TLS app is replaced on reload (reloadTls), which needs SO_REUSEPORT: the port is first
    // claimed exclusively so another process still cannot share it.
    const reuse = this.sharedPort || (this.tls && isNative(this.uws));
    if (reuse && !this.sharedPort) port = await claimPort(host, port);
    return new Promise((resolve, reject) => {
      const done = (socket: us_listen_socket | false) => {
        if (!socket) {
          // uWS reports no errno: an exclusive node:net bind (claimPort) learns the reason
          void claimPort(host, port).then(
            () => reject(new ListenError(`cannot listen on ${host}:${port} (address not available)`)),
            reject,
          );
          return;
        }
        const bound = this.uws.us_socket_local_port(socket);
        this.sockets.push({ socket, host, port: bound });
        resolve(bound);
      };
      if (isNative(this.uws) && reuse) {
        listenExclusive(this.app, host, port, 0, done); // 0: uSockets' default, SO_REUSEPORT on Linux
      } else if (isNative(this.uws)) {
        // LIBUS_LISTEN_EXCLUSIVE_PORT: without it a second process silently shares the port (docs/uws.md).
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
    for (const s of this.sockets.splice(0)) this.uws.us_listen_socket_close(s.socket);
  }

  /**
   * Close every listener and connection at once. An acceptor thread must call this before it
   * ends: a worker thread that exits with uWS sockets open fails Node's loop-close assertion and
   * aborts the whole process (measured with this build: terminate(), process.exit() and an
   * uncaught exception alike, with one idle keep-alive connection open).
   */
  close(): void {
    this.stopAccepting();
    for (const app of [...this.retired.splice(0), this.app]) (app as unknown as { close(): void }).close(); // in this build, missing from its typings
  }

  unlisten(host: string, port: number): boolean {
    const i = this.sockets.findIndex((s) => s.host === host && s.port === port);
    if (i === -1) return false;
    const [s] = this.sockets.splice(i, 1);
    this.uws.us_listen_socket_close(s!.socket);
    return true;
  }

  addresses(): Address[] {
    return this.sockets.map((s) => ({ host: s.host, port: s.port }));
  }
}

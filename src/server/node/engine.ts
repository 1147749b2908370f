/**
 * The node engine: node:http for HTTP/1.x (and node:http2 for HTTP/2, see ./h2.ts). Its parser,
 * llhttp, is strict (`insecureHTTPParser` stays off): malformed requests get a 400 and a close,
 * HTTP/1.0 is answered (keep-alive only when asked), absolute-form targets are accepted (RFC 9112
 * §3.2.2), pipelined requests are answered in order, and the header and timeout limits come from
 * the config. It runs wherever Node runs (Node 22/24, musl), and inside a worker thread.
 *
 * Each request becomes a NodeExchange and goes to the pipeline synchronously, as on uWS.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type {
  Http2SecureServer,
  Http2Server,
  Http2ServerRequest,
  Http2ServerResponse,
  Http2Session,
} from 'node:http2';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TlsOptions } from 'node:tls';
import { errorReply, syError } from '../../errors.js';
import { Phase } from '../../exchange.js';
import { hasReusePort } from '../../node-version.js';
import type { TlsMaterial } from '../../tls/load.js';
import {
  type Address,
  bindReason,
  type Engine,
  type EngineOptions,
  type EngineTimeouts,
  ListenError,
  type ListenOptions,
} from '../engine.js';
import { Conn } from './conn.js';
import { NodeExchange, type NodeHooks } from './exchange.js';
import { markReason, markRequest, watchNoRequest } from './no-request.js';
import { applyProxied, gateConnections } from './proxy-protocol.js';
import { isHead, parseErrorFor, rawRefusal } from './refuse.js';
import { isWebSocketUpgrade, NodeWebSockets } from './ws.js';

/** nginx's defaults: client_header_timeout 60 s, keepalive_timeout 75 s, send_timeout 60 s; node's requestTimeout 300 s. */
export const DEFAULT_TIMEOUTS: EngineTimeouts = {
  header: 60_000,
  keepAlive: 75_000,
  request: 300_000,
  send: 60_000,
};

/**
 * node's own cap on header lines; more are dropped silently. Above `limits.headers` (≤ 1000), so
 * a request it truncated still has more fields than our limit and is refused with 431.
 */
const MAX_HEADERS_COUNT = 2000;

/** node:net's `reusePort` listen option exists from Node 22.12 (23.1 on the 23 line). */
const REUSE_PORT = hasReusePort();

const ALLOW_ALL = 'GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS, TRACE';

type AnyServer = Server | Http2Server | Http2SecureServer;
type AnyRequest = IncomingMessage | Http2ServerRequest;
type AnyResponse = ServerResponse | Http2ServerResponse;

export class NodeEngine implements Engine {
  readonly name = 'node';
  private readonly opts: EngineOptions;
  private readonly hooks: NodeHooks;
  private readonly timeouts: EngineTimeouts;
  private readonly servers: { server: AnyServer; host: string; port: number }[] = [];
  /** every server ever listening (for close(): stopAccepting forgets them) */
  private readonly all: AnyServer[] = [];
  private readonly sessions = new Set<Http2Session>();
  /** WebSockets (HTTP/1 upgrades), when the pipeline takes them */
  private readonly ws: NodeWebSockets | undefined;
  private draining = false;

  constructor(opts: EngineOptions) {
    this.opts = opts;
    this.timeouts = opts.timeouts ?? DEFAULT_TIMEOUTS;
    this.hooks = {
      secure: opts.tls !== undefined,
      limits: opts.limits,
      eagerAddress: opts.eagerAddress,
      onWriteError: opts.onWriteError,
      sendTimeout: this.timeouts.send,
    };
    const websocket = opts.websocket;
    if (websocket !== undefined)
      this.ws = new NodeWebSockets(websocket, this.adopt, this.serve, this.hooks, opts.websocketMaxMessage);
  }

  /** Every request of every server, HTTP/1 or HTTP/2. */
  private onRequest = (req: AnyRequest, res: AnyResponse): void => {
    const h2 = 'stream' in req;
    markRequest(h2 ? req.stream.session : req.socket);
    const conn = h2 ? undefined : Conn.of(req.socket as Duplex);
    // pipelined behind an answer that closes the connection: never processed (RFC 9112 §9.6)
    if (conn?.closing) return;
    if (!h2 && req.httpVersionMajor !== 1) {
      // "GET / HTTP/2.0" in HTTP/1 syntax (llhttp parses it): RFC 9110 §15.6.6
      conn!.close();
      const r = errorReply(
        syError('SY_ERR_BAD_REQUEST', 'HTTP/2.0 request line', {
          status: 505,
          reason: 'HTTP version not supported',
        }),
        false,
      );
      res.writeHead(505, {
        ...r.headers,
        connection: 'close',
        'content-length': Buffer.byteLength(r.body as string),
      });
      res.end(r.body as string);
      return;
    }
    if (req.url === '*' && req.method === 'OPTIONS') {
      // RFC 9110 §9.3.7: OPTIONS * asks about the server itself
      res.writeHead(200, { allow: ALLOW_ALL, 'content-length': 0 });
      res.end();
      return;
    }
    conn?.started();
    const ex = NodeExchange.accept(req, res, this.hooks, conn);
    this.adopt(ex);
    this.serve(ex);
  };

  /** What every exchange gets from its connection before the pipeline sees it (the PROXY header's source). */
  private adopt = (ex: NodeExchange): void => {
    if (this.opts.proxyProtocol !== undefined) applyProxied(ex, ex.req.socket);
  };

  /** The pipeline takes `ex` (an ordinary request, or an upgrade it answers as one). */
  private serve = (ex: NodeExchange): void => {
    if (this.draining) ex.closeAfter = true;
    try {
      this.opts.handle(ex);
    } catch (err) {
      // A bug in the pipeline must cost one request, never the process.
      this.opts.onWriteError(ex, err as Error);
      if (ex.phase === Phase.Open) void ex.send(errorReply(syError('SY_ERR_HANDLER'), false));
    }
  };

  /** Upgrade requests go to the WebSocket side (with node's `shouldUpgradeCallback`, only WebSocket ones). */
  private takeUpgrades(server: AnyServer): void {
    const ws = this.ws;
    if (ws === undefined) return;
    const s = server as AnyServer & { shouldUpgradeCallback?: (req: IncomingMessage) => boolean };
    if (typeof s.shouldUpgradeCallback === 'function') s.shouldUpgradeCallback = isWebSocketUpgrade;
    server.on('upgrade', ws.onUpgrade);
  }

  /** Bytes llhttp could not parse, or a head/request that did not arrive in time. */
  private onClientError = (err: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void => {
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const conn = Conn.of(socket);
    if (conn.refused) return;
    conn.refused = true;
    if (err.code === 'HPE_INVALID_EOF_STATE') {
      // the client closed its side mid-request (an upload cut off): it went away, nothing to answer
      conn.current?.clientGone();
      socket.destroy();
      return;
    }
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT' && conn.pending > 0) {
      // a request still being received and answered: its client is too slow; cancel it
      conn.current?.timedOut();
      socket.destroy();
      return;
    }
    markReason(socket, err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 'timeout' : 'malformed');
    const refusal = parseErrorFor(err, this.opts.limits);
    // bad chunked framing inside a request being answered: that request answers 400 and closes
    if (conn.current?.failBody(syError('SY_ERR_BAD_BODY', refusal.message))) {
      conn.afterAnswers(() => socket.end());
      return;
    }
    const answer = rawRefusal(refusal, isHead(err));
    conn.afterAnswers(() => {
      if (socket.writable) socket.end(answer);
      else socket.destroy();
    });
  };

  /** CONNECT (authority-form): Switchyard is not a forward proxy (RFC 9110 §9.3.6). */
  private onConnect = (_req: IncomingMessage, socket: Duplex): void => {
    markRequest(socket);
    const err = syError('SY_ERR_BAD_REQUEST', 'CONNECT', { status: 501, reason: 'method not implemented' });
    if (socket.writable) socket.end(rawRefusal(err));
    else socket.destroy();
  };

  private http1(): Server {
    const t = this.timeouts;
    const server = createServer(
      {
        insecureHTTPParser: false,
        // a missing Host is ours to answer: 400 on HTTP/1.1, accepted on HTTP/1.0 (./request.ts)
        requireHostHeader: false,
        // our checks count the limits precisely; node's cap only stops what is far beyond them
        maxHeaderSize: this.opts.limits.headerBytes + this.opts.limits.uri + 1024,
        headersTimeout: t.header,
        requestTimeout: t.request,
        keepAliveTimeout: t.keepAlive,
        // how often node looks for heads and requests over their timeouts (default 30 s)
        connectionsCheckingInterval: Math.max(100, Math.min(t.header, t.request) / 10),
        noDelay: true,
      },
      this.onRequest,
    );
    server.maxHeadersCount = MAX_HEADERS_COUNT;
    server.on('clientError', this.onClientError);
    server.on('connect', this.onConnect);
    // Expect: answered by the exchange (100 when the body is read), not by node up front
    server.on('checkContinue', this.onRequest);
    server.on('checkExpectation', this.onRequest);
    this.takeUpgrades(server);
    if (this.opts.onNoRequest !== undefined) watchNoRequest(server, this.opts.onNoRequest);
    return server;
  }

  private async create(options: ListenOptions | undefined): Promise<AnyServer> {
    const material = this.opts.tls;
    if (material === undefined && options?.h2c !== true) return this.http1();
    const { http2Server } = await import('./h2.js');
    const tls = material === undefined ? undefined : await this.tlsOptions(material);
    const server = http2Server(tls, this.opts.limits, this.timeouts, this.onRequest);
    server.on('session', (s: Http2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
      if (this.draining) s.close();
    });
    server.on('clientError', this.onClientError);
    server.on('checkContinue', this.onRequest);
    // HTTP/1.1 clients of a TLS listener (allowHTTP1) get what the HTTP/1 server's get; an h2c
    // listener speaks only HTTP/2
    if (material !== undefined) {
      server.on('connect', this.onConnect);
      server.on('checkExpectation', this.onRequest);
      this.takeUpgrades(server);
    }
    if (this.opts.onNoRequest !== undefined) watchNoRequest(server, this.opts.onNoRequest);
    return server;
  }

  /** Listen on host:port (0 = any free port). Resolves with the port actually bound. */
  async listen(host: string, port: number, options?: ListenOptions): Promise<number> {
    if (this.opts.sharedPort === true && !REUSE_PORT)
      throw new ListenError(
        `cannot listen on ${host}:${port} from several acceptor threads: the node engine needs ` +
          `Node 22.12 or later for that (SO_REUSEPORT), this is ${process.version}; use threads: 1 or engine: uws`,
      );
    const server = await this.create(options);
    const pp = this.opts.proxyProtocol;
    if (pp !== undefined) {
      const tls = this.opts.tls !== undefined;
      gateConnections(server, { ...pp, timeoutMs: this.timeouts.header, tls });
    }
    return new Promise((resolve, reject) => {
      const fail = (err: NodeJS.ErrnoException) => {
        reject(new ListenError(`cannot listen on ${host}:${port} (${bindReason(err)})`));
      };
      server.once('error', fail);
      // Acceptor threads share the port (SO_REUSEPORT): node:net has `reusePort` from Node 22.12
      // (earlier versions ignore it, and a second thread's bind fails with EADDRINUSE).
      const shared = this.opts.sharedPort === true;
      server.listen({ host, port, exclusive: !shared, ...(shared ? { reusePort: true } : {}) }, () => {
        server.removeListener('error', fail);
        const bound = (server.address() as AddressInfo).port;
        this.servers.push({ server, host, port: bound });
        this.all.push(server);
        resolve(bound);
      });
    });
  }

  /** Stop accepting; idle keep-alive connections close now, busy ones after their answer (Connection: close). */
  stopAccepting(): void {
    this.draining = true;
    for (const s of this.servers.splice(0)) {
      s.server.close();
      (s.server as Server).closeIdleConnections?.();
    }
    // HTTP/2: GOAWAY; streams in flight finish
    for (const s of this.sessions) s.close();
  }

  /** Close every listener and connection now (after a drain, or an acceptor thread that must end). */
  close(): void {
    this.stopAccepting();
    for (const s of this.all.splice(0)) (s as Server).closeAllConnections?.();
    this.ws?.closeAll();
    for (const s of this.sessions) s.destroy();
  }

  addresses(): Address[] {
    return this.servers.map((s) => ({ host: s.host, port: s.port }));
  }

  /** Stop accepting on one listener (a reload removed it); its connections finish their requests. */
  unlisten(host: string, port: number): boolean {
    const i = this.servers.findIndex((s) => s.host === host && s.port === port);
    if (i === -1) return false;
    const [s] = this.servers.splice(i, 1);
    s!.server.close();
    (s!.server as Server).closeIdleConnections?.();
    return true;
  }

  /** TLS options whose SNI lookup `reloadTls` can replace (node keeps the callback it was given). */
  private sni: TlsOptions['SNICallback'];
  private async tlsOptions(material: TlsMaterial): Promise<TlsOptions> {
    // a TLS handshake must finish within the head's time (node's default: 120 s)
    const options = {
      ...(await import('../../tls/node.js')).nodeTlsOptions(material),
      handshakeTimeout: this.timeouts.header,
    };
    this.sni = options.SNICallback;
    options.SNICallback = (name, cb) => (this.sni === undefined ? cb(null, undefined) : this.sni(name, cb));
    return options;
  }

  /** New certificates for new connections (a reload): node swaps the secure context in place. */
  async reloadTls(material: TlsMaterial): Promise<void> {
    const options = await this.tlsOptions(material);
    for (const s of this.all) (s as Http2SecureServer).setSecureContext?.(options);
  }
}

/**
 * WebSocket proxying for a `proxy:` route. Before the client's handshake completes we pick a
 * server with the upstream's balancer (health and backups apply), open a WebSocket to it with the
 * `ws` client, and only then let the engine answer 101 with the subprotocol the upstream chose.
 * A server that cannot be reached counts as a failed attempt (passive health) and the next one is
 * tried, up to `retries.tries`; when none answers, the client gets 502 as plain HTTP. A server that
 * answers the handshake with a status (401, 404…) has that status relayed.
 *
 * The handshake carries the same fields as a proxied HTTP request (request-headers.ts: Cookie,
 * Authorization, Origin, the trusted-proxy X-Forwarded-* fields, the route's header rules);
 * the client's Sec-WebSocket-* fields are not copied: `ws` writes its own key, version and
 * extensions, and the offered subprotocols are passed to it as its protocol list.
 *
 * Relay: messages keep their type (text/binary). Upstream → client: when the client's buffer is
 * past the socket (send returns false) the upstream socket is paused until the client drains.
 * Client → upstream: the engine cannot pause a WebSocket's reads, so past the route's
 * `max_backpressure` queued for the upstream the connection is closed with 1008 (stated in
 * SECURITY.md). The route's `ws:` limits (WsLimits) apply to the client's side. Close codes and
 * reasons pass both ways; 1005 (no status) stays an empty close frame and an abnormal end (1006)
 * on one side cuts the other.
 */
import WebSocket from 'ws';
import { type SwitchyardError, syError } from '../errors.js';
import type { Exchange, Reply } from '../exchange.js';
import {
  sendableCloseCode,
  type WsAccept,
  type WsLimits,
  type WsSession,
  type WsSocket,
} from '../http/websocket.js';
import type { Params } from '../router/router.js';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import { WS_PROXY_DEFAULTS, wsLimits } from '../tracks/websocket/limits.js';
import { UpstreamPath } from './path.js';
import type { Peer } from './peer.js';
import { RequestHeaders } from './request-headers.js';
import type { Trust } from './trust.js';
import type { Upstream } from './upstream.js';

/** a handshake the upstream has not answered by then is a failed attempt */
const HANDSHAKE_TIMEOUT = 10_000;
/** bytes of a refused handshake's body relayed to the client */
const REFUSAL_BODY = 16 * 1024;

/** The offered subprotocols (`Sec-WebSocket-Protocol: a, b`). */
function offered(ex: Exchange): string[] {
  const v = ex.header('sec-websocket-protocol');
  if (v === undefined) return [];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** Close with `code` where a close frame may carry it (RFC 6455 §7.4), else an empty one; 1006 cuts. */
function closeWith(ws: WebSocket, code: number, reason: string): void {
  if (ws.readyState === WebSocket.CLOSED) return;
  if (code === 1006) return ws.terminate();
  try {
    if (sendableCloseCode(code)) ws.close(code, reason);
    else ws.close();
  } catch {
    ws.close(code); // a reason over 123 bytes
  }
}

export class WsProxyRoute {
  private readonly upstream: Upstream;
  private readonly path: UpstreamPath;
  private readonly requestHeaders: RequestHeaders;
  private readonly limits: WsLimits;

  constructor(route: ProxyRouteConfig, where: string, upstream: Upstream, trust: Trust) {
    this.upstream = upstream;
    this.limits = wsLimits(route.ws, WS_PROXY_DEFAULTS);
    this.path = new UpstreamPath(route);
    this.requestHeaders = new RequestHeaders(route, where, trust);
  }

  /** The route's `websocket` runner (see RunFn). */
  readonly run = (ex: Exchange, _params: Params): Promise<WsAccept | Reply> => this.connect(ex);

  private async connect(ex: Exchange): Promise<WsAccept | Reply> {
    const up = this.upstream;
    const path = this.path.build(ex);
    const fields = this.requestHeaders.build(ex);
    const headers: Record<string, string> = {};
    for (let i = 0; i < fields.length; i += 2) {
      const name = fields[i]!;
      if (name.startsWith('sec-websocket-')) continue;
      const prev = headers[name];
      headers[name] =
        prev === undefined ? fields[i + 1]! : `${prev}${name === 'cookie' ? '; ' : ', '}${fields[i + 1]!}`;
    }
    const protocols = offered(ex);
    const key = up.key(ex);
    const tried: Peer[] = [];
    let last: SwitchyardError | undefined;
    for (;;) {
      const peer = up.select(key, tried);
      if (peer === undefined) throw last ?? syError('SY_ERR_UPSTREAM_UNAVAILABLE', `upstream ${up.name}`);
      tried.push(peer);
      ex.tries++;
      ex.upstream = ex.upstream === undefined ? peer.address : `${ex.upstream}, ${peer.address}`;
      const started = performance.now();
      try {
        const result = await handshake(peer, path, protocols, headers, ex, this.limits);
        ex.upstreamTime = performance.now() - started;
        peer.succeeded();
        if (!(result instanceof ProxiedSocket)) {
          ex.upstreamStatus = result.status;
          return result;
        }
        ex.upstreamStatus = 101;
        return result;
      } catch (err) {
        if (ex.cancelReason !== undefined) throw ex.cancelReason;
        last = syError('SY_ERR_UPSTREAM_CONNECT', `upstream ${peer.address}: ${(err as Error).message}`);
        peer.failed(performance.now(), last.code);
        (ex.logExtra ??= {}).upstream_errors = [last.code];
        if (tried.length >= up.tries) throw last;
      }
    }
  }
}

/** Open a WebSocket to `peer`: the open socket, or the Reply of a refused handshake. */
function handshake(
  peer: Peer,
  path: string,
  protocols: string[],
  headers: Record<string, string>,
  ex: Exchange,
  limits: WsLimits,
): Promise<ProxiedSocket | Reply> {
  const url = `${peer.origin.replace(/^http/, 'ws')}${path}`;
  const ws = new WebSocket(url, protocols, {
    headers,
    perMessageDeflate: false,
    followRedirects: false,
    handshakeTimeout: HANDSHAKE_TIMEOUT,
  });
  const onCancel = { handleEvent: () => ws.terminate() };
  ex.addEventListener('abort', onCancel);
  const settled = new Promise<ProxiedSocket | Reply>((resolve, reject) => {
    // Synchronously: a message in the same read as the handshake's answer is emitted right after.
    ws.once('open', () => resolve(new ProxiedSocket(ws, limits)));
    ws.once('error', reject);
    ws.once('unexpected-response', (req, res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (c: Buffer) => {
        if (size < REFUSAL_BODY) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => {
        const type = res.headers['content-type'];
        resolve({
          status: res.statusCode ?? 502,
          headers: type === undefined ? {} : { 'content-type': type },
          body: Buffer.concat(chunks).subarray(0, REFUSAL_BODY),
        });
        req.destroy();
      });
      res.on('error', reject);
    });
  });
  return settled.finally(() => ex.removeEventListener('abort', onCancel));
}

/**
 * One proxied connection: the upstream socket is open; the client's handshake is about to
 * complete. Messages (and a close) the upstream sends in between are held, the upstream paused,
 * and delivered in order once the client is open: an origin that greets on connect must not lose
 * its greeting (found by test/websocket/game-browser.test.ts, the proxied page).
 */
class ProxiedSocket implements WsAccept {
  readonly kind = 'websocket';
  readonly protocol: string;
  readonly limits: WsLimits;
  private readonly up: WebSocket;
  private client: WsSocket | undefined;
  private clientGone = false;
  private held: { data: Buffer; binary: boolean }[] = [];
  private heldClose: { code: number; reason: string } | undefined;

  constructor(up: WebSocket, limits: WsLimits) {
    this.up = up;
    this.limits = limits;
    this.protocol = up.protocol;
    up.on('error', () => {}); // `close` follows every error
    up.pause();
    up.on('message', (data: Buffer, binary: boolean) => {
      const client = this.client;
      if (client === undefined) this.held.push({ data, binary });
      else if (!client.send(data, binary)) up.pause();
    });
    up.on('close', (code: number, reason: Buffer) => {
      const client = this.client;
      if (client === undefined) this.heldClose = { code, reason: reason.toString('utf8') };
      else if (!this.clientGone) ProxiedSocket.pass(client, code, reason.toString('utf8'));
    });
  }

  private static pass(client: WsSocket, code: number, reason: string): void {
    if (code === 1006) client.terminate();
    else client.close(code, reason);
  }

  abandon(): void {
    this.up.terminate();
  }

  open(client: WsSocket): WsSession {
    const up = this.up;
    const backlog = this.limits.maxBackpressure;
    this.client = client;
    let blocked = false;
    for (const m of this.held) blocked = !client.send(m.data, m.binary) || blocked;
    this.held = [];
    if (this.heldClose !== undefined) ProxiedSocket.pass(client, this.heldClose.code, this.heldClose.reason);
    else if (!blocked) up.resume();
    return {
      message(data: Buffer, binary: boolean) {
        if (up.readyState !== WebSocket.OPEN) return;
        up.send(data, { binary });
        if (up.bufferedAmount > backlog) {
          client.close(1008, 'upstream backlog over limit');
          up.terminate();
        }
      },
      drain() {
        up.resume();
      },
      closed: (code: number, reason: string) => {
        this.clientGone = true;
        closeWith(up, code, reason);
      },
    };
  }
}

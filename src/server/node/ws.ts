/**
 * WebSockets on the node engine, with `ws` (`noServer`, `handleUpgrade`): node:http hands an
 * upgrade request over as a bare socket ('upgrade'); we ask the pipeline whether its route takes
 * WebSockets and either run the route's pre-handshake work (a proxy connects to its upstream, a
 * module's `upgrade` may refuse; the pipeline answers refusals) or serve it as an ordinary request. Until the handshake the
 * socket carries a ServerResponse of our own, so refusals and ordinary answers are written by the
 * same NodeExchange as every other request; it closes the connection after its answer (node's
 * parser has let go of the socket: no second request can follow on it).
 *
 * Which requests come here: where node:http has `shouldUpgradeCallback` (Node 22.23+, 24), only
 * WebSocket handshakes (`isWebSocketUpgrade`); every other Upgrade (h2c, …) stays an ordinary
 * request on a keep-alive connection. On older Node every upgrade comes here: those are answered
 * as ordinary requests and the connection closes after, and one with a body is refused (the
 * parser skipped it: we cannot read it).
 *
 * Limits are per route (WsLimits, carried by the accept), enforced as on uWS: `ws`'s own cap is
 * the engine's (the largest max_message plus a margin: a message past it is closed 1009 by `ws`),
 * the route's max_message is checked per message (1009), idle with a timer (1001), dead peers by
 * the shared heartbeat, backpressure after each send (cut at once; the session sees 1008).
 * Deflate is agreed per route: two `ws` servers, one offering permessage-deflate.
 *
 * HTTP/2 has no Upgrade (RFC 9113 §8.2.2; extended CONNECT, RFC 8441, is not offered): a
 * WebSocket route reached over HTTP/2 answers as plain HTTP (the track's 426).
 */
import { type IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import { asSwitchyardError, errorReply, syError } from '../../errors.js';
import { type Exchange, Phase } from '../../exchange.js';
import { type Beat, Heartbeats } from '../../http/heartbeat.js';
import type { WsAccept, WsLimits, WsRun, WsSession, WsSocket } from '../../http/websocket.js';
import { NodeExchange, type NodeHooks } from './exchange.js';
import { markRequest } from './no-request.js';

/** The engine's cap when the server is built without one (as on uWS). */
const DEFAULT_ENGINE_MAX_MESSAGE = 128 * 1024;

const BACKPRESSURE = { code: 1008, reason: 'backpressure' };
const KEY = /^[+/0-9A-Za-z]{22}==$/;
const kProtocol = Symbol('switchyard.wsProtocol');

type UpgradeRequest = IncomingMessage & { [kProtocol]?: string };

/**
 * Is this a WebSocket handshake (for node:http's `shouldUpgradeCallback`)? As on uWS, only a GET
 * with `Upgrade: websocket` and a well-formed `Sec-WebSocket-Key`; anything else is an ordinary
 * request.
 */
export function isWebSocketUpgrade(req: IncomingMessage): boolean {
  return (
    req.method === 'GET' &&
    req.headers.upgrade?.toLowerCase() === 'websocket' &&
    KEY.test(req.headers['sec-websocket-key'] ?? '')
  );
}

/**
 * A version `ws` would refuse: refused (and logged) by the pipeline as the request's problem,
 * before it is routed — a routed upgrade stays in flight until its work has run.
 */
function versionProblem(req: IncomingMessage) {
  const v = req.headers['sec-websocket-version'];
  if (v === '13' || v === '8') return undefined;
  // RFC 6455 §4.2.2: 426 naming the version we speak
  const err = syError('SY_ERR_BAD_REQUEST', 'unsupported Sec-WebSocket-Version', {
    status: 426,
    reason: 'upgrade required',
  });
  err.headers = { 'sec-websocket-version': '13' };
  return err;
}

/** One connection: the socket a session sees, and its heartbeat. Every call after the close is a no-op. */
class NodeWsSocket implements WsSocket, Beat {
  session: WsSession | undefined = undefined;
  gone = false;
  heard = true;
  pinged = false;
  idleTimer: NodeJS.Timeout | undefined = undefined;
  /** why the engine cut the connection, reported instead of `ws`'s 1006 */
  closedAs: { code: number; reason: string } | undefined = undefined;

  constructor(
    readonly ws: WebSocket,
    readonly limits: WsLimits,
  ) {}

  send(data: Uint8Array | string, binary: boolean): boolean {
    if (this.gone) return false;
    const ws = this.ws;
    ws.send(data, { binary });
    const queued = ws.bufferedAmount;
    if (queued === 0) return true;
    // Past the cap besides this message (one message larger than the cap still goes out): cut at
    // once, the queue dropped (WsLimits.maxBackpressure; test/websocket/limits.test.ts "stops reading").
    const size = typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
    if (queued - size > this.limits.maxBackpressure) {
      this.closedAs = BACKPRESSURE;
      this.terminate();
    }
    return false;
  }

  buffered(): number {
    return this.gone ? 0 : this.ws.bufferedAmount;
  }

  close(code?: number, reason?: string): void {
    if (this.gone) return;
    this.gone = true;
    // 1005/1006/1015 may not be sent (RFC 6455 §7.4.1): an empty close frame instead.
    if (code === undefined || code === 1005 || code === 1006 || code === 1015) this.ws.close();
    else this.ws.close(code, reason ?? '');
  }

  terminate(): void {
    if (this.gone) return;
    this.gone = true;
    this.ws.terminate();
  }

  ping(): void {
    if (!this.gone) this.ws.ping();
  }

  cut(): void {
    this.terminate();
  }
}

export class NodeWebSockets {
  private readonly plain: WebSocketServer;
  private readonly deflate: WebSocketServer;
  private readonly beats = new Heartbeats();
  private readonly open = new Set<NodeWsSocket>();

  constructor(
    private readonly route: (ex: Exchange) => WsRun | undefined,
    private readonly adopt: (ex: NodeExchange) => void,
    private readonly serve: (ex: NodeExchange) => void,
    private readonly hooks: NodeHooks,
    maxMessage = DEFAULT_ENGINE_MAX_MESSAGE,
  ) {
    const common = {
      noServer: true,
      clientTracking: false,
      maxPayload: maxMessage,
      // the subprotocol the route chose before the handshake ('' : none)
      handleProtocols: (_offered: Set<string>, req: UpgradeRequest) => req[kProtocol] || false,
    };
    this.plain = new WebSocketServer({ ...common, perMessageDeflate: false });
    // no context kept between the server's messages: a few KiB per connection, not ≈ 300 KiB
    this.deflate = new WebSocketServer({ ...common, perMessageDeflate: { serverNoContextTakeover: true } });
  }

  /** node:http's 'upgrade': a bare socket, the request's head, and the bytes already read after it. */
  onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    socket.on('error', destroy);
    markRequest(socket);
    const res = new ServerResponse(req);
    res.shouldKeepAlive = false;
    res.assignSocket(socket as Socket);
    // the answer closes the connection: node's parser no longer reads it
    res.once('finish', () => socket.end());
    const ex = NodeExchange.accept(req, res, this.hooks, undefined);
    this.adopt(ex);
    ex.closeAfter = true;
    if (ex.problem === undefined && (req.headers['content-length'] ?? '0') !== '0') {
      ex.problem = syError('SY_ERR_BAD_REQUEST', 'an Upgrade request with a body');
    }
    if (ex.problem === undefined && req.headers['transfer-encoding'] !== undefined) {
      ex.problem = syError('SY_ERR_BAD_REQUEST', 'an Upgrade request with a body');
    }
    const shake = isWebSocketUpgrade(req);
    if (shake && ex.problem === undefined) ex.problem = versionProblem(req);
    const run = shake ? this.route(ex) : undefined;
    if (run === undefined) {
      this.serve(ex);
      return;
    }
    void run()
      .catch((err: unknown) => {
        // The pipeline answers every failure itself; this is a last guard against a bug there.
        if (ex.phase === Phase.Open) void ex.send(errorReply(asSwitchyardError(err), false));
        return undefined;
      })
      .then((result) => {
        if (result === undefined) return; // answered as plain HTTP
        if (ex.phase !== Phase.Open || !socket.readable || !socket.writable) {
          result.abandon();
          return;
        }
        ex.phase = Phase.Done;
        res.detachSocket(socket as Socket);
        socket.removeListener('error', destroy);
        this.handshake(req as UpgradeRequest, socket, head, result);
      });
  };

  private handshake(req: UpgradeRequest, socket: Duplex, head: Buffer, accept: WsAccept): void {
    req[kProtocol] = accept.protocol;
    let opened = false;
    const server = accept.limits.deflate ? this.deflate : this.plain;
    server.handleUpgrade(req, socket, head, (ws) => {
      opened = true;
      this.opened(ws, socket, accept);
    });
    // `ws` refused it after all (an extension offer it cannot parse): release what the route holds
    if (!opened) accept.abandon();
  }

  private opened(ws: WebSocket, socket: Duplex, accept: WsAccept): void {
    const s = new NodeWsSocket(ws, accept.limits);
    this.open.add(s);
    const { idle, ping, maxMessage } = s.limits;
    if (idle > 0) {
      s.idleTimer = setTimeout(() => s.close(1001, 'idle timeout'), idle);
      s.idleTimer.unref();
    }
    if (ping > 0) this.beats.add(ping, s);
    const heard = () => {
      s.heard = true;
    };
    ws.on('message', (data: Buffer, binary: boolean) => {
      if (s.gone) return;
      s.heard = true;
      if (data.byteLength > maxMessage) {
        s.close(1009, 'message too big');
        return;
      }
      s.idleTimer?.refresh();
      s.session?.message(data, binary);
    });
    ws.on('ping', heard);
    ws.on('pong', heard);
    // invalid frames, a message past the engine's cap: `ws` closes with the code, then 'close'
    ws.on('error', () => {});
    socket.on('drain', () => s.session?.drain());
    ws.once('close', (code: number, reason: Buffer) => {
      const by = s.gone ? 'server' : 'client'; // `gone` is set by every close this side starts
      s.gone = true;
      this.open.delete(s);
      if (s.idleTimer !== undefined) clearTimeout(s.idleTimer);
      if (ping > 0) this.beats.remove(ping, s);
      const as = s.closedAs;
      if (as !== undefined) void s.session?.closed(as.code, as.reason, by);
      else void s.session?.closed(code, reason.toString('utf8'), by);
    });
    s.session = accept.open(s);
  }

  /** Cut every open WebSocket (the engine is closing). */
  closeAll(): void {
    for (const s of this.open) s.terminate();
  }
}

function destroy(this: Duplex): void {
  this.destroy();
}

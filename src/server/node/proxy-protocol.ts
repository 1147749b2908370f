/**
 * PROXY protocol (v1 and v2) on the node engine: the header is read off each new socket before
 * node:http, node:https or node:http2 sees a byte. The server's own 'connection' listeners are
 * taken off and called once the header has been parsed. A header is believed only from a peer in
 * `trusted_proxies`: another peer's request, or one with no header, is answered 400
 * (SY_ERR_PROXY_PROTOCOL) by the pipeline and closed; bytes that are neither are closed at once.
 *
 * Bytes that arrived after the header go back to the stream: `unshift` for plain HTTP (node:http
 * reads the JS stream). A TLS socket reads its file descriptor directly, past anything unshifted,
 * so under TLS the socket is wrapped in a JS stream (`Replay`) that yields those bytes first; the
 * TLS socket built over it cannot ask the kernel for the peer's address, so the engine tags it
 * with the peer and the source at 'secureConnection' (docs/proxy-protocol.md, "The node engine").
 * Test: test/ops/proxy-protocol-node.test.ts.
 */
import type { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { type SwitchyardError, syError } from '../../errors.js';
import { normaliseAddress } from '../../http/address.js';
import { type ProxyVersions, parseProxyHeader } from '../../http/proxy-header.js';
import { rawRefusal } from './refuse.js';

/** On the socket node:http hands a request: the client's address from the PROXY header. */
const PROXIED = Symbol('switchyard.proxied');
const PEER = Symbol('switchyard.peer');
const REFUSED = Symbol('switchyard.proxyRefused');

interface Tagged {
  [PROXIED]?: string | undefined;
  [PEER]?: string;
  [REFUSED]?: string | undefined;
}

export interface ProxyGate {
  trusted(peer: string): boolean;
  versions: ProxyVersions;
  /** the whole header must arrive within this */
  timeoutMs: number;
  tls: boolean;
}

type Listener = (socket: Socket) => void;

interface AnyServer {
  listeners(event: 'connection'): Function[];
  removeAllListeners(event: 'connection'): unknown;
  on(event: 'connection', l: Listener): unknown;
  prependListener(event: 'secureConnection', l: (s: TLSSocket) => void): unknown;
}

/** A socket's bytes, with `head` first: what a TLS socket reads instead of the descriptor. */
class Replay extends Duplex {
  readonly socket: Socket;
  constructor(socket: Socket, head: Buffer) {
    super({ allowHalfOpen: true });
    this.socket = socket;
    this.push(head);
    socket.on('data', (c: Buffer) => {
      if (!this.push(c)) socket.pause();
    });
    socket.on('end', () => this.push(null));
    socket.on('error', (err) => this.destroy(err));
    socket.on('close', () => this.destroy());
  }
  override _read(): void {
    this.socket.resume();
  }
  override _write(chunk: Buffer, enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.socket.write(chunk, enc, cb);
  }
  override _final(cb: (err?: Error | null) => void): void {
    this.socket.end(cb);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.socket.destroy();
    cb(err);
  }
  setTimeout(ms: number, cb?: () => void): this {
    this.socket.setTimeout(ms, cb);
    return this;
  }
  setNoDelay(on?: boolean): this {
    this.socket.setNoDelay(on);
    return this;
  }
  setKeepAlive(on?: boolean, delay?: number): this {
    this.socket.setKeepAlive(on, delay);
    return this;
  }
}

/** Put `gate` in front of `server`'s connections (call before it listens). */
export function gateConnections(server: AnyServer, gate: ProxyGate): void {
  const inner = server.listeners('connection') as Listener[];
  server.removeAllListeners('connection');
  const pass = (socket: Socket | Replay) => {
    for (const l of inner) l.call(server, socket as Socket);
  };
  server.on('connection', (socket) => readHeader(socket, gate, pass));
  if (gate.tls) {
    server.prependListener('secureConnection', (tls) => {
      // TLSSocket → its TLSWrap → the JSStreamSocket over our Replay (node's internals, checked
      // by the test): without it the peer is unknown, and an unknown peer is not served.
      const replay = (tls as unknown as { _handle?: { _parentWrap?: { stream?: unknown } } })._handle
        ?._parentWrap?.stream;
      if (!(replay instanceof Replay)) {
        tls.destroy();
        return;
      }
      const t = replay as unknown as Tagged;
      Object.defineProperty(tls, 'remoteAddress', { value: t[PEER] });
      Object.defineProperty(tls, 'remotePort', { value: replay.socket.remotePort });
      (tls as unknown as Tagged)[PROXIED] = t[PROXIED];
      (tls as unknown as Tagged)[REFUSED] = t[REFUSED];
    });
  }
}

function readHeader(socket: Socket, gate: ProxyGate, pass: (s: Socket | Replay) => void): void {
  const peer = normaliseAddress(socket.remoteAddress ?? '');
  // An untrusted peer's connection goes on to HTTP, header dropped, to be answered 400 there (with
  // an access-log line, as on uWS): its header is read, never believed.
  let refused = gate.trusted(peer) ? undefined : `PROXY header from ${peer}, not in trusted_proxies`;
  const timer = setTimeout(() => {
    socket.off('data', onData);
    socket.destroy();
  }, gate.timeoutMs);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
  let buf: Buffer = Buffer.alloc(0);
  const onData = (chunk: Buffer) => {
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
    let h = parseProxyHeader(buf, gate.versions);
    if (h.kind === 'partial') return;
    socket.off('data', onData);
    clearTimeout(timer);
    if (h.kind === 'error') {
      // Plain HTTP with no header at all: answered 400 by the pipeline. Anything else: closed.
      const start = buf.subarray(0, 16).toString('latin1');
      if (gate.tls || start.startsWith('PROXY ') || !/^[A-Z]+ /.test(start)) {
        if (gate.tls || !socket.writable) socket.destroy();
        else socket.end(rawRefusal(syError('SY_ERR_PROXY_PROTOCOL', `${h.reason} from ${peer}`)));
        return;
      }
      refused ??= `no PROXY header from ${peer}`;
      h = { kind: 'done', version: 1, source: undefined, length: 0 };
    }
    socket.pause();
    const tag: Tagged = {
      [PEER]: peer,
      [PROXIED]: refused === undefined && h.source !== undefined ? normaliseAddress(h.source) : undefined,
      [REFUSED]: refused,
    };
    const rest = buf.subarray(h.length);
    if (gate.tls) {
      const replay = new Replay(socket, rest);
      Object.assign(replay, tag);
      pass(replay);
    } else {
      Object.assign(socket, tag);
      if (rest.length > 0) socket.unshift(rest);
      pass(socket);
    }
    socket.resume();
  };
  socket.on('data', onData);
}

/**
 * On the engine's exchange: the PROXY source of the socket it came on (none for a LOCAL header),
 * or, for a connection that is not to be believed, a problem the pipeline answers (400, closed).
 */
export function applyProxied(
  ex: { proxied: string | undefined; problem: SwitchyardError | undefined; closeAfter: boolean },
  socket: unknown,
): void {
  const t = socket as Tagged | undefined;
  const refused = t?.[REFUSED];
  if (refused === undefined) {
    ex.proxied = t?.[PROXIED];
    return;
  }
  ex.closeAfter = true;
  ex.problem ??= syError('SY_ERR_PROXY_PROTOCOL', refused);
}

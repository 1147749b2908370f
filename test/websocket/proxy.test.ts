/**
 * WebSocket proxying through a `proxy:` route to a real `ws` origin: the handshake fields and the
 * subprotocol, text and binary both ways, close codes and reasons both ways, a refused handshake
 * relayed, an unreachable upstream answered 502 before any upgrade, the client going away closing
 * the upstream connection (within 100 ms, scaled by the pace of a proxied echo measured just
 * before), and a route that takes no WebSockets answering the upgrade as HTTP.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { startServer, type TestServer } from '../helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { until } from '../helpers/wait.js';

let origin: WebSocketServer;
let originUrl: string;
let proxy: TestServer;
let seen: { url: string; headers: IncomingHttpHeaders } | undefined;
const originClosed: { code: number; reason: string }[] = [];
let originOpen = 0;
let originClosedAt = 0;

function opened(
  url: string,
  protocols: string[] = [],
  headers: Record<string, string> = {},
): Promise<WebSocket> {
  const ws = new WebSocket(url, protocols, { headers });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function closed(ws: WebSocket): Promise<{ code: number; reason: string }> {
  return new Promise((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
}

/** The status a refused handshake answered. */
function refused(url: string): Promise<number> {
  const ws = new WebSocket(url);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('the upgrade was accepted')));
    ws.once('error', reject);
  });
}

beforeAll(async () => {
  origin = new WebSocketServer({
    host: '127.0.0.1',
    port: 0,
    handleProtocols: (protocols) => (protocols.has('game.v2') ? 'game.v2' : false),
    verifyClient: (info, cb) => (info.req.url === '/forbidden' ? cb(false, 403) : cb(true)),
  });
  await new Promise<void>((r) => origin.once('listening', () => r()));
  originUrl = `http://127.0.0.1:${(origin.address() as AddressInfo).port}`;
  origin.on('connection', (ws, req) => {
    originOpen++;
    seen = { url: req.url!, headers: req.headers };
    if (req.url === '/greet') ws.send('welcome');
    ws.on('message', (data: Buffer, binary) => {
      const text = binary ? '' : data.toString();
      if (text.startsWith('close:')) {
        const [, code, reason] = text.split(':');
        ws.close(Number(code), reason);
      } else ws.send(data, { binary });
    });
    ws.on('close', (code, reason) => {
      originClosedAt = performance.now();
      originOpen--;
      originClosed.push({ code, reason: reason.toString() });
    });
  });
  proxy = await startServer(`
upstreams:
  origin: { servers: [{ url: "${originUrl}" }] }
  down: { servers: [{ url: "http://127.0.0.1:1" }], retries: { tries: 1 } }
routes:
  - { path: "/ws/*", proxy: origin, strip_prefix: /ws }
  - { path: "/dead/*", proxy: down }
  - { path: "/plain", respond: { status: 200, body: "plain\\n" } }
`);
});

afterAll(async () => {
  await proxy?.close();
  for (const c of origin.clients) c.terminate();
  await new Promise((r) => origin.close(r));
});

const wsUrl = (path: string) => `ws://127.0.0.1:${proxy.port}${path}`;

describe('WebSocket proxying', () => {
  it('forwards the handshake fields and the subprotocol the upstream chose', async () => {
    const ws = await opened(wsUrl('/ws/room?x=1'), ['game.v1', 'game.v2'], {
      cookie: 'sid=abc',
      authorization: 'Bearer t0k',
      origin: 'http://app.example',
    });
    expect(ws.protocol).toBe('game.v2');
    expect(seen!.url).toBe('/room?x=1');
    expect(seen!.headers.cookie).toBe('sid=abc');
    expect(seen!.headers.authorization).toBe('Bearer t0k');
    expect(seen!.headers.origin).toBe('http://app.example');
    expect(seen!.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(seen!.headers['x-forwarded-proto']).toBe('http');
    expect(seen!.headers['sec-websocket-protocol']).toBe('game.v1,game.v2');
    ws.close();
    await closed(ws);
  });

  it('relays text and binary messages both ways, keeping their type and order', async () => {
    const ws = await opened(wsUrl('/ws/echo'));
    const got: { data: Buffer; binary: boolean }[] = [];
    ws.on('message', (data: Buffer, binary) => got.push({ data, binary }));
    const big = Buffer.alloc(200_000, 7);
    ws.send('hello');
    ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    ws.send(big, { binary: true });
    for (let i = 0; i < 100; i++) ws.send(`m${i}`);
    await until(() => got.length === 103, undefined, 'the echoes');
    expect(got[0]).toEqual({ data: Buffer.from('hello'), binary: false });
    expect(got[1]).toEqual({ data: Buffer.from([0, 1, 2, 255]), binary: true });
    expect(got[2]!.binary).toBe(true);
    expect(got[2]!.data.equals(big)).toBe(true);
    expect(got.slice(3).map((m) => m.data.toString())).toEqual(
      Array.from({ length: 100 }, (_, i) => `m${i}`),
    );
    ws.close();
    await closed(ws);
  });

  it('delivers what the upstream sends before the client handshake completes (a greeting)', async () => {
    const ws = new WebSocket(wsUrl('/ws/greet'));
    const first = new Promise<string>((r) => ws.once('message', (d: Buffer) => r(d.toString())));
    expect(await first).toBe('welcome');
    ws.close();
    await closed(ws);
  });

  it('passes the upstream close code and reason to the client', async () => {
    const ws = await opened(wsUrl('/ws/c'));
    const done = closed(ws);
    ws.send('close:4001:bye now');
    expect(await done).toEqual({ code: 4001, reason: 'bye now' });
  });

  it('passes the client close code and reason to the upstream', async () => {
    const ws = await opened(wsUrl('/ws/c2'));
    const before = originClosed.length;
    ws.close(4002, 'later');
    await until(() => originClosed.length > before, undefined, 'the origin to see the close');
    expect(originClosed.at(-1)).toEqual({ code: 4002, reason: 'later' });
  });

  it('closes the upstream connection when the client goes without a close frame, within 100 ms (scaled)', async () => {
    await until(() => originOpen === 0, undefined, 'earlier connections to close');
    const ws = await opened(wsUrl('/ws/gone'));
    expect(originOpen).toBe(1);
    // The machine's pace now: the slowest of five echo round trips through the proxy.
    const echo = () =>
      new Promise<void>((resolve) => {
        ws.once('message', () => resolve());
        ws.send('pace');
      });
    await echo();
    const paceMs = await pace(echo);
    const t0 = performance.now();
    ws.terminate();
    await until(() => originOpen === 0, undefined, 'the upstream connection to close');
    const ms = originClosedAt - t0;
    expect(ms).toBeLessThan(scaled(100, paceMs, QUIET_PACE_MS.wsEcho));
  });

  it('answers 502 before any upgrade when the upstream cannot be reached', async () => {
    expect(await refused(wsUrl('/dead/x'))).toBe(502);
  });

  it('relays the status of a handshake the upstream refuses', async () => {
    expect(await refused(wsUrl('/ws/forbidden'))).toBe(403);
  });

  it('answers an upgrade to a route without WebSockets as an ordinary request', async () => {
    expect(await refused(wsUrl('/plain'))).toBe(200);
    expect(await refused(wsUrl('/nowhere'))).toBe(404);
  });
});

/**
 * WebSocket limits set per route (WsLimits), for in-process routes and proxied upgrades: the
 * backpressure cap against a client that stops reading (close 1008 at the server, the rest of the
 * queue dropped, the client sees the connection end without a close frame), max_message beyond
 * the old fixed 1 MiB and below it on one server, deflate agreed per route, pings that cut a
 * dead peer but never a quiet live one, and config errors naming the key path (built CLI).
 */

import type { AddressInfo } from 'node:net';
import { type Socket, connect as tcpConnect } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { runCliToEnd, tempFile } from '../helpers/cli.js';
import { defaultEngine } from '../helpers/engines.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

interface Flood {
  maxBuffered: number;
  sent: number;
  closes: string[];
}
const g = globalThis as { __wsFlood?: Flood };

let origin: WebSocketServer;
const originClosed: number[] = [];
let s: TestServer;

interface Client {
  ws: WebSocket;
  received: number;
  extensions: string | undefined;
  closed: Promise<{ code: number; reason: string }>;
}

async function open(path: string, options: WebSocket.ClientOptions = {}): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, options);
  const c: Client = {
    ws,
    received: 0,
    extensions: undefined,
    closed: new Promise((resolve) =>
      ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
    ),
  };
  ws.on('message', (d: Buffer) => {
    c.received += d.length;
  });
  ws.once('upgrade', (res) => {
    c.extensions = res.headers['sec-websocket-extensions'];
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return c;
}

/** A client that completes the handshake by hand and then never answers anything (a dead peer). */
function deadPeer(path: string): Promise<{ socket: Socket; data: Buffer[]; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(s.port, '127.0.0.1');
    const data: Buffer[] = [];
    const ended = new Promise<void>((r) => socket.once('close', () => r()));
    socket.on('error', () => {});
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      ),
    );
    socket.on('data', (d: Buffer) => {
      data.push(d);
      if (data.length === 1) {
        if (d.toString('latin1').startsWith('HTTP/1.1 101')) resolve({ socket, data, ended });
        else reject(new Error(`no upgrade: ${d.toString('latin1').split('\r\n')[0]}`));
      }
    });
  });
}

beforeAll(async () => {
  origin = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: true });
  await new Promise<void>((r) => origin.once('listening', () => r()));
  origin.on('connection', (ws) => {
    ws.on('message', (d, binary) => ws.send(d, { binary }));
    ws.on('close', (code) => originClosed.push(code));
  });
  const originPort = (origin.address() as AddressInfo).port;
  s = await startServer(`
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
upstreams:
  origin: { servers: [ { url: "http://127.0.0.1:${originPort}" } ] }
routes:
  - { path: /flood-small, websocket: ws-flood, max_backpressure: 64KiB }
  - { path: /flood-big, websocket: ws-flood, max_backpressure: 512KiB }
  - { path: /big, websocket: ws-echo, max_message: 2MiB }
  - { path: /plain, websocket: ws-echo }
  - { path: /deflate, websocket: ws-echo, deflate: true }
  - { path: /ping, websocket: ws-echo, ping: 1s, idle: 0 }
  - { path: "/up/*", proxy: origin, strip_prefix: /up, ws: { max_message: 1KiB, idle: 300ms, deflate: true } }
`);
});
afterAll(async () => {
  await s.close();
  await new Promise<void>((r) => origin.close(() => r()));
});
beforeEach(() => {
  g.__wsFlood = { maxBuffered: 0, sent: 0, closes: [] };
});

describe('websocket limits per route', () => {
  for (const [path, cap] of [
    ['/flood-small', 64 * 1024],
    ['/flood-big', 512 * 1024],
  ] as const) {
    it(`cuts a client that stops reading once ${cap / 1024} KiB are queued: 1008 at the server (${path})`, async () => {
      const c = await open(path, { perMessageDeflate: false });
      c.ws.pause(); // stop reading: the kernel buffers fill, then the server's queue grows
      c.ws.send('flood:16384');
      const flood = g.__wsFlood!;
      await until(() => flood.closes.length === 1, undefined, 'the server closes the flooded connection');
      expect(flood.closes).toEqual(['1008:backpressure']);
      // The send that crossed the cap was queued; none after it.
      expect(flood.maxBuffered).toBeGreaterThan(cap);
      expect(flood.maxBuffered).toBeLessThanOrEqual(cap + 16384 + 64);
      c.ws.resume();
      // Cut without a close frame: the client sees the connection end (1006), having received what
      // reached its socket, not what was still queued.
      expect((await c.closed).code).toBe(1006);
      expect(c.received).toBeLessThan(flood.sent);
    });
  }

  it('takes a message past the old fixed 1 MiB cap on one route and still 1009s past 64 KiB on another', async () => {
    const big = await open('/big');
    const msg = Buffer.alloc(1536 * 1024, 0x62);
    const echoed = new Promise<Buffer>((resolve) =>
      big.ws.on('message', (d: Buffer, binary) => binary && resolve(d)),
    );
    big.ws.send(msg);
    expect((await echoed).equals(msg)).toBe(true);
    big.ws.send(Buffer.alloc(2 * 1024 * 1024 + 1));
    expect((await big.closed).code).toBe(1009);
    // Far past every route's limit: refused by the engine before it is buffered whole (uWS cuts
    // the connection; the node engine's `ws` closes it with 1009).
    const huge = await open('/big');
    huge.ws.send(Buffer.alloc(8 * 1024 * 1024));
    expect((await huge.closed).code).toBe(defaultEngine() === 'uws' ? 1006 : 1009);

    const plain = await open('/plain');
    plain.ws.send(Buffer.alloc(64 * 1024 + 1));
    expect((await plain.closed).code).toBe(1009);
  });

  it('agrees permessage-deflate only on a route that enables it, in-process and proxied', async () => {
    const on = await open('/deflate');
    const off = await open('/plain');
    const up = await open('/up/x');
    expect(on.extensions).toMatch(/^permessage-deflate/);
    expect(off.extensions).toBeUndefined();
    expect(up.extensions).toMatch(/^permessage-deflate/);
    const text = 'compressible '.repeat(40);
    for (const c of [on, up]) {
      const got = new Promise<string>((resolve) =>
        c.ws.on('message', (d: Buffer, binary) => !binary && d.toString() === text && resolve(d.toString())),
      );
      c.ws.send(text);
      expect(await got).toBe(text);
    }
    for (const c of [on, off, up]) c.ws.close();
  });

  it('pings a quiet client: a live one stays, a dead peer is cut (ping)', async () => {
    const live = await open('/ping');
    let pings = 0;
    live.ws.on('ping', () => pings++);
    const dead = await deadPeer('/ping');
    // cut after two silent periods; the live client has a whole period (1 s, ample on a busy
    // machine) to answer each ping
    await dead.ended;
    const frames = Buffer.concat(dead.data);
    expect(frames.includes(Buffer.from([0x89, 0x00]))).toBe(true); // it was pinged first
    // The live client, quiet for as long, answered its pings and is still open.
    expect(pings).toBeGreaterThan(0);
    expect(live.ws.readyState).toBe(WebSocket.OPEN);
    live.ws.close();
  });

  it('applies a proxy route’s ws limits: max_message closes 1009, idle closes 1001, upstream closed too', async () => {
    const before = originClosed.length;
    const a = await open('/up/a');
    a.ws.send('x'.repeat(1025));
    expect((await a.closed).code).toBe(1009);
    const b = await open('/up/b');
    expect(await b.closed).toEqual({ code: 1001, reason: 'idle timeout' });
    await until(() => originClosed.length === before + 2, undefined, 'both upstream connections closed');
    expect(originClosed.slice(before).sort()).toEqual([1001, 1009]);
  });
});

describe('websocket limits in the config', () => {
  it('names the key path of each bad limit (switchyard check)', async () => {
    const file = tempFile(
      'switchyard.yaml',
      `upstreams:
  app: { servers: [ { url: "http://127.0.0.1:9" } ] }
routes:
  - { path: "/a/*", proxy: app, ws: { max_message: 100MiB, bogus: 1 } }
  - { path: /b, websocket: game, ping: 5ms, max_backpressure: 10 }
  - { path: /c, websocket: game, deflate: yes, idle: soon }
`,
    );
    const r = await runCliToEnd(['check', '-c', file]);
    expect(r.code).toBe(1);
    for (const line of [
      'routes[0].ws.max_message: between 1 byte and 64MiB',
      'routes[0].ws.bogus: unknown key',
      'routes[1].ping: 0 (never) or at least 100ms',
      'routes[1].max_backpressure: at least 1KiB',
      'routes[2].deflate: ',
      'routes[2].idle: ',
    ])
      expect(r.stderr).toContain(line);
  });
});

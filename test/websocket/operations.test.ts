/**
 * WebSocket upgrades inside the operations model (src/pipeline-ws.ts), over real sockets: one
 * access-log line per connection at its close (101, duration, payload bytes and messages each way,
 * close code, closed_by), in-process and proxied; refusals logged like requests; the route's
 * `rate:` (429) and `queue:` (503, an open WebSocket holds its slot) before the handshake; drain
 * refusing new upgrades, letting in-flight HTTP work finish, then closing WebSockets with 1001
 * and waiting for each one's close handler.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { startCli } from '../helpers/cli.js';
import { type Line, startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const g = globalThis as { __wsEvents?: string[] };
let origin: WebSocketServer;

interface Client {
  ws: WebSocket;
  messages: string[];
  closed: Promise<{ code: number; reason: string }>;
}

function open(s: TestServer, path: string): Promise<Client> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`);
  const messages: string[] = [];
  ws.on('message', (d: Buffer) => messages.push(d.toString()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, messages, closed }));
    ws.once('error', reject);
  });
}

/** The status of a refused upgrade, and its headers. */
function refused(s: TestServer, path: string): Promise<{ status: number; headers: Record<string, unknown> }> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('accepted')));
    ws.once('error', reject);
  });
}

const linesFor = (s: TestServer, path: string) => s.access.filter((l: Line) => l.path === path);

function config(originPort: number): string {
  return `
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
upstreams:
  origin: { servers: [ { url: "http://127.0.0.1:${originPort}" } ] }
routes:
  - { path: /ws, websocket: ws-echo }
  - { path: /limited, websocket: ws-echo, rate: { limit: 1/h, burst: 0, key: ip } }
  - { path: /one, websocket: ws-echo, queue: 1 }
  - { path: /slow, handler: sleep }
  - { path: "/up/*", proxy: origin, strip_prefix: /up }
`;
}

beforeAll(async () => {
  origin = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise<void>((r) => origin.once('listening', () => r()));
  origin.on('connection', (ws) => ws.on('message', (d, binary) => ws.send(d, { binary })));
});
afterAll(async () => {
  for (const c of origin.clients) c.terminate();
  await new Promise<void>((r) => origin.close(() => r()));
});
beforeEach(() => {
  g.__wsEvents = [];
});

describe('websockets in the operations model', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(config((origin.address() as AddressInfo).port));
  });
  afterAll(() => s.close());

  it('writes one access-log line per WebSocket at its close, counting both ways', async () => {
    const c = await open(s, '/ws?who=log');
    c.ws.send('abc');
    c.ws.send(Buffer.from([1, 2, 3, 4]));
    await until(() => c.messages.length === 3, undefined, 'greeting and two echoes');
    expect(linesFor(s, '/ws')).toEqual([]); // nothing while it is open
    c.ws.close(4001, 'done');
    await c.closed;
    const line = await s.accessFor('/ws');
    const greeting = Buffer.byteLength(c.messages[0]!);
    expect(line).toMatchObject({
      status: 101,
      route: '/ws',
      track: 'websocket',
      query: 'who=log',
      messages_in: 2,
      messages_out: 3,
      bytes_in: 7,
      bytes_out: greeting + 7,
      close_code: 4001,
      closed_by: 'client',
    });
    expect(line.ms).toBeGreaterThan(0);

    // a close this side starts: closed_by server (ws-echo's handler throws → 1011)
    const t = await open(s, '/ws?who=thrower');
    t.ws.send('throw');
    expect((await t.closed).code).toBe(1011);
    const lines = await until(() => (linesFor(s, '/ws').length === 2 ? linesFor(s, '/ws') : undefined));
    expect(lines[1]).toMatchObject({ status: 101, close_code: 1011, closed_by: 'server', messages_in: 1 });
  });

  it('logs a proxied WebSocket with its upstream, and a refused upgrade like a request', async () => {
    const c = await open(s, '/up/echo');
    c.ws.send('hi');
    await until(() => c.messages.length === 1);
    c.ws.close();
    await c.closed;
    const line = await s.accessFor('/up/echo');
    expect(line).toMatchObject({
      status: 101,
      upstream_status: 101,
      messages_in: 1,
      messages_out: 1,
      closed_by: 'client',
    });
    expect(line.upstream).toMatch(/^127\.0\.0\.1:\d+$/);

    expect((await refused(s, '/ws?deny=401')).status).toBe(401);
    const denied = await until(() => s.access.find((l) => l.query === 'deny=401'));
    expect(denied).toMatchObject({ status: 401, route: '/ws' });
  });

  it('applies the route’s rate limit before the handshake: 429 with Retry-After', async () => {
    const first = await open(s, '/limited');
    const r = await refused(s, '/limited');
    expect(r.status).toBe(429);
    expect(r.headers['retry-after']).toBeDefined();
    const line = await until(() => linesFor(s, '/limited').find((l) => l.status === 429));
    expect(line.err).toBe('SY_ERR_RATE_LIMITED');
    first.ws.close();
    await first.closed;
  });

  it('counts an open WebSocket against the route’s queue until it closes: 503 meanwhile', async () => {
    const first = await open(s, '/one');
    const r = await refused(s, '/one');
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    first.ws.close();
    await first.closed;
    await until(() => linesFor(s, '/one').some((l) => l.status === 101), undefined, 'the slot released');
    const again = await open(s, '/one');
    again.ws.close();
    await again.closed;
  });
});

describe('drain with WebSockets open', () => {
  it('refuses new upgrades, finishes HTTP work, then closes WebSockets with 1001 and awaits their close', async () => {
    const s = await startServer(config((origin.address() as AddressInfo).port));
    try {
      const a = await open(s, '/ws?who=a');
      const b = await open(s, '/up/b');
      // an HTTP request in flight when the drain starts
      const slow = fetch(`${s.url}/slow?ms=400&tell`).then((r) => r.text());
      await until(() => s.errors.some((l) => l.msg === 'sleeping'), undefined, 'the request in flight');
      const drained = s.server.pipeline.drain(10_000).then(() => g.__wsEvents!.push('drained'));
      // the listener is still open here (only the pipeline drains): a new upgrade is refused
      const r = await refused(s, '/ws?who=late');
      expect(r.status).toBe(503);
      expect(await slow).toBe('slept');
      const [ca, cb] = await Promise.all([a.closed, b.closed]);
      expect(ca).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(cb).toEqual({ code: 1001, reason: 'server shutting down' });
      await drained;
      const events = g.__wsEvents!;
      // HTTP work first (its access line is written before either WebSocket's)
      const order = s.access.map((l) => `${l.path} ${l.status}`);
      expect(order).toContain('/ws 503'); // the late upgrade
      expect(order.indexOf('/slow 200')).toBeLessThan(order.indexOf('/ws 101'));
      expect(order.indexOf('/slow 200')).toBeLessThan(order.indexOf('/up/b 101'));
      // the module's close handler and the scope settle before the drain resolves
      expect(events.indexOf('fork-cancelled:a')).toBeLessThan(events.indexOf('drained'));
      expect(events.indexOf('close:a:1001:server shutting down')).toBeLessThan(events.indexOf('drained'));
      expect(s.server.pipeline.inflight.size).toBe(0);
      const line = linesFor(s, '/ws').find((l) => l.status === 101);
      expect(line).toMatchObject({ close_code: 1001, closed_by: 'server' });
    } finally {
      await s.close();
    }
  });

  it('on SIGTERM the built CLI closes its WebSockets with 1001 and logs each before it exits', async () => {
    const cli = await startCli(`
log: { level: info, access: stdout }
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
routes:
  - { path: /ws, websocket: ws-echo }
`);
    try {
      const ws = new WebSocket(`ws://127.0.0.1:${cli.port}/ws?who=cli`);
      const closed = new Promise<{ code: number; reason: string }>((resolve) =>
        ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
      );
      await new Promise<void>((resolve, reject) => {
        ws.once('message', () => resolve()); // the greeting: the connection is open
        ws.once('error', reject);
      });
      cli.kill('SIGTERM');
      expect(await closed).toEqual({ code: 1001, reason: 'server shutting down' });
      expect(await cli.exited).toBe(0);
      const line = cli.accessLog().find((l) => l.path === '/ws');
      expect(line).toMatchObject({ status: 101, close_code: 1001, closed_by: 'server', messages_out: 1 });
    } finally {
      await cli.stop();
    }
  });
});

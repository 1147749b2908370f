/**
 * The per-request scope, end to end: a route timeout answers 504 and aborts the handler at that
 * moment; a client that goes away aborts the handler within 50 ms (logged closed_by client); the `first`
 * example races an upstream request against a timer with `pick` and closes the loser's socket.
 */
import { createServer, type Server as HttpServer, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseResponse, raw, rawGet } from './helpers/raw-client.js';
import { startServer, type TestServer } from './helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from './helpers/timing.js';
import { until } from './helpers/wait.js';

let s: TestServer;
let upstream: HttpServer;
let upstreamPort = 0;
const closedAt = new Map<string, number>();

beforeAll(async () => {
  upstream = createServer((req: IncomingMessage, res) => {
    if (req.url === '/fast') {
      res.setHeader('content-type', 'text/plain');
      res.end('fast answer\n');
      return;
    }
    // /stall: never answers; record when the proxy closes the socket
    req.socket.on('close', () => closedAt.set(req.url!, Date.now()));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upstreamPort = (upstream.address() as { port: number }).port;
  s = await startServer(`
upstreams:
  app: { servers: [ { url: "http://127.0.0.1:${upstreamPort}" } ] }
routes:
  - { path: /slow, handler: slow, timeout: 200ms }
  - { path: /slow-untimed, handler: slow }
  - { path: /echo-timed, handler: echo, methods: [POST], timeout: 200ms, queue: 1 }
  - { path: /first, handler: first }
`);
});
afterAll(async () => {
  await s.close();
  upstream.closeAllConnections();
  await new Promise((r) => upstream.close(r));
});

describe('route timeout', () => {
  it('answers 504 in about the timeout and aborts the handler at that moment', async () => {
    const p = await pace(() => rawGet(s.port, '/slow?ms=0'));
    const r = await raw(s.port, 'GET /slow?ms=5000 HTTP/1.1\r\nHost: a\r\n\r\n', 50);
    const ms = r.firstByteMs;
    const res = parseResponse(r.text);
    expect(res.status).toBe(504);
    expect(res.body).toBe('request timed out (SY_ERR_TIMEOUT)\n');
    expect(ms).toBeGreaterThanOrEqual(190);
    expect(ms).toBeLessThan(scaled(400, p, QUIET_PACE_MS.get));
    const cancelled = await until(() =>
      s.errors.find((l) => l.msg === 'slow: cancelled' && l.reason === 'SY_ERR_TIMEOUT'),
    );
    expect(cancelled.slept_ms).toBeGreaterThanOrEqual(195);
    expect(cancelled.slept_ms).toBeLessThan(scaled(300, p, QUIET_PACE_MS.get));
    expect(s.access.at(-1)).toMatchObject({ path: '/slow', status: 504, err: 'SY_ERR_TIMEOUT' });
  });

  it('a handler that finishes in time is not disturbed', async () => {
    const res = parseResponse((await raw(s.port, 'GET /slow?ms=20 HTTP/1.1\r\nHost: a\r\n\r\n', 50)).text);
    expect(res).toMatchObject({ status: 200, body: 'slept 20 ms\n' });
  });
});

describe('a route timeout while the handler reads the body', () => {
  it('fails the waiting read: the request finishes (logged, its slot freed) and the next one is served', async () => {
    const sock = connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let got = '';
    sock.on('data', (c: Buffer) => {
      got += c.toString('latin1');
    });
    // 5 of the 20 declared bytes: the handler waits in `ctx.text()` for the rest
    sock.write('POST /echo-timed HTTP/1.1\r\nHost: a\r\nContent-Length: 20\r\n\r\nabcde');
    await until(() => got.includes('\r\n\r\n'), 'the 504');
    expect(parseResponse(got).status).toBe(504);
    const line = await until(() => s.access.find((l) => l.path === '/echo-timed'), 'its access line');
    expect(line).toMatchObject({ status: 504, err: 'SY_ERR_TIMEOUT' });
    await until(() => s.server.pipeline.inflight.size === 0, 'no request in flight');
    sock.destroy();
    // queue: 1 — a slot still held would answer 503
    const next = parseResponse(
      (await raw(s.port, 'POST /echo-timed HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi', 50)).text,
    );
    expect(next.status).toBe(200);
    expect(JSON.parse(next.body)).toMatchObject({ body: 'hi' });
  });
});

describe('client abort', () => {
  it('closing the socket mid-request aborts the handler within 50 ms, logged as closed by the client, no status', async () => {
    const p = await pace(() => rawGet(s.port, '/slow?ms=0'));
    const sock = connect(s.port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    sock.write('GET /slow-untimed?ms=5000 HTTP/1.1\r\nHost: a\r\n\r\n');
    await until(() => s.server.pipeline.inflight.size === 1, 'the request to be in flight');
    const closedAtMs = Date.now();
    sock.destroy();
    const line = await until(() =>
      s.errors.find((l) => l.msg === 'slow: cancelled' && l.reason === 'SY_ERR_CLIENT_GONE'),
    );
    const observedAt = Date.parse(line.time as string);
    expect(observedAt - closedAtMs).toBeLessThan(scaled(50, p, QUIET_PACE_MS.get));
    const access = await until(() => s.access.find((l) => l.path === '/slow-untimed'));
    expect(access).toMatchObject({ status: 0, closed_by: 'client', err: 'SY_ERR_CLIENT_GONE' });
  });
});

describe('first: pick(upstream request, 5 s timer)', () => {
  it('answers the upstream body when the upstream wins', async () => {
    const res = parseResponse(
      (await raw(s.port, 'GET /first?path=/fast HTTP/1.1\r\nHost: a\r\n\r\n', 50)).text,
    );
    expect(res).toMatchObject({ status: 200, body: 'fast answer\n' });
  });

  it('answers 504 "request timed out" when the timer wins, and closes the losing request', async () => {
    const p = await pace(() => rawGet(s.port, '/slow?ms=0'));
    const r = await raw(s.port, 'GET /first?path=/stall&timeout_ms=300 HTTP/1.1\r\nHost: a\r\n\r\n', 50);
    const ms = r.firstByteMs;
    const res = parseResponse(r.text);
    expect(res.status).toBe(504);
    expect(res.body).toBe('request timed out (SY_ERR_TIMEOUT)\n');
    expect(ms).toBeGreaterThanOrEqual(290);
    expect(ms).toBeLessThan(scaled(600, p, QUIET_PACE_MS.get));
    // the loser was aborted and awaited before pick returned: its socket is already closed
    const closed = await until(() => closedAt.get('/stall'), 'upstream socket close');
    expect(closed).toBeLessThanOrEqual(Date.now());
  });

  it('refuses a bad path with 400', async () => {
    const res = parseResponse(
      (await raw(s.port, 'GET /first?path=http://evil HTTP/1.1\r\nHost: a\r\n\r\n', 50)).text,
    );
    expect(res.status).toBe(400);
  });
});

/**
 * The node engine's own behaviour on HTTP/1.x, with the built CLI and raw sockets: the timeouts
 * from the config (a head that does not arrive in time gets 408 and a close; an idle keep-alive
 * connection is closed), HTTP/1.0 keep-alive only when asked, a client that goes away cancelling
 * its request, uploads read with backpressure and capped, and the drain's Connection: close.
 * (The raw-bytes conformance suite runs against this engine too: test/conformance.test.ts.)
 */

import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, startCli } from '../helpers/cli.js';
import { RawClient, values } from '../helpers/raw-client.js';
import { settle, until } from '../helpers/wait.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');
let cli: Cli & { ports: number[] };
let port: number;

beforeAll(async () => {
  cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout }
limits: { body: 1MiB, header_timeout: 300ms, keepalive_timeout: 400ms, request_timeout: 2s }
routes_dir: ${fixtures}
routes:
  - { path: /sync, respond: { body: "sync\\n" } }
  - { path: /sleep, handler: sleep }
  - { path: /read, handler: read }
  - { path: /stream, handler: stream }
`);
  port = cli.ports[0]!;
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
});

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;

describe('node engine (HTTP/1.x)', () => {
  it('limits.header_timeout: a head that stops arriving gets 408 and a close', async () => {
    const c = await RawClient.connect(port);
    try {
      c.write('GET /sync HTTP/1.1\r\nHost: a\r\n');
      const n = await c.next(20_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(408);
      expect(values(n, 'connection')).toEqual(['close']);
      expect(await c.closedWithin(5000)).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('limits.keepalive_timeout: an idle keep-alive connection is closed by the server', async () => {
    const c = await RawClient.connect(port);
    try {
      c.write(GET('/sync'));
      const n = await c.next(5000);
      expect('status' in n && n.status).toBe(200);
      expect(await c.closedWithin(20_000)).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('HTTP/1.0: closed after the answer, unless keep-alive is asked for', async () => {
    const c = await RawClient.connect(port);
    try {
      c.write('GET /sync HTTP/1.0\r\n\r\n');
      const n = await c.next(5000);
      expect('status' in n && n.status).toBe(200);
      expect(await c.closedWithin(5000)).toBe(true);
    } finally {
      c.destroy();
    }
    const k = await RawClient.connect(port);
    try {
      for (let i = 0; i < 3; i++) {
        k.write('GET /sync HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
        const n = await k.next(5000);
        if (!('status' in n)) throw new Error(JSON.stringify(n));
        expect(n.status).toBe(200);
        expect(values(n, 'connection')).toEqual(['keep-alive']);
        expect(n.body.toString()).toBe('sync\n');
      }
      // a streamed answer of unknown length to HTTP/1.0 is delimited by the close (no chunked)
      k.write('GET /stream?bytes=50000&chunk=1000 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
      expect(await k.closedWithin(5000)).toBe(true);
      expect(k.received).not.toMatch(/transfer-encoding/i);
      expect(k.received.endsWith('x'.repeat(50_000))).toBe(true);
    } finally {
      k.destroy();
    }
  });

  it('a client that goes away cancels its request (the handler is aborted, logged status 0, closed_by client)', async () => {
    const c = await RawClient.connect(port);
    c.write(GET('/sleep?ms=30000&tell', 'X-Request-Id: node-gone-1\r\n'));
    await cli.waitFor(/"id":"node-gone-1".*"msg":"sleeping"/);
    c.destroy();
    await cli.waitFor(
      /"id":"node-gone-1".*"status":0.*"closed_by":"client".*"err":"SY_ERR_CLIENT_GONE"/,
      10_000,
    );
  });

  it('a client that leaves mid-upload: nothing written, logged status 0, closed_by client', async () => {
    // regression: the request was cancelled before node's 'close', so the handler's 499 counted as written
    const c = await RawClient.connect(port);
    c.write('POST /read HTTP/1.1\r\nHost: a\r\nX-Request-Id: node-gone-up\r\nContent-Length: 900000\r\n\r\n');
    c.write('u'.repeat(100_000));
    c.destroy();
    await cli.waitFor(
      /"id":"node-gone-up".*"status":0.*"closed_by":"client".*"err":"SY_ERR_CLIENT_GONE"/,
      10_000,
    );
  });

  it('limits.request_timeout: an upload that stops mid-body is cut by the server and logged closed_by server', async () => {
    const c = await RawClient.connect(port);
    try {
      c.write('POST /read HTTP/1.1\r\nHost: a\r\nX-Request-Id: node-req-to\r\nContent-Length: 10\r\n\r\nab');
      await cli.waitFor(/"id":"node-req-to".*"status":0/, 20_000);
      expect(cli.stdout()).toMatch(/"id":"node-req-to".*"closed_by":"server".*"err":"SY_ERR_CLIENT_GONE"/);
      expect(await c.closedWithin(5000)).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('a stream whose source gives no byte yet shows its head at once (node holds a head until the first byte)', async () => {
    const c = await RawClient.connect(port);
    try {
      // empty pieces forever: the head must still go out (regression: it never did)
      c.write(GET('/stream?bytes=10&chunk=0'));
      const n = await c.next(10_000, true);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(200);
      expect(values(n, 'transfer-encoding')).toEqual(['chunked']);
    } finally {
      c.destroy();
    }
  });

  it('an upload is read whole (paused and resumed under the cap), and one over the cap gets 413 and a close', async () => {
    const c = await RawClient.connect(port);
    try {
      const body = 'b'.repeat(900_000);
      c.write(`POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: ${body.length}\r\n\r\n`);
      for (let i = 0; i < body.length; i += 100_000) c.write(body.slice(i, i + 100_000));
      const n = await c.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(200);
      expect(JSON.parse(n.body.toString())).toEqual({ length: 900_000 });
    } finally {
      c.destroy();
    }
    const big = await RawClient.connect(port);
    try {
      big.write('POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n');
      const piece = `10000\r\n${'z'.repeat(0x10000)}\r\n`;
      for (let i = 0; i < 20 && !big.closed; i++) big.write(piece);
      const n = await big.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(413);
      expect(values(n, 'connection')).toEqual(['close']);
      expect(await big.closedWithin(5000)).toBe(true);
    } finally {
      big.destroy();
    }
  });

  it('a response streamed to a reader that pauses arrives whole (write() false waits for drain)', async () => {
    const c = await RawClient.connect(port);
    try {
      c.socket.pause();
      c.write(GET('/stream?bytes=8000000&chunk=65536&known=1'));
      // the server is held back: bytes arrived, then stopped (our buffer and the socket's are full)
      await until(() => c.socket.readableLength > 0, 'the first bytes');
      await settle(() => c.socket.readableLength);
      c.socket.resume();
      const n = await c.next(30_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(200);
      expect(n.body.length).toBe(8_000_000);
    } finally {
      c.destroy();
    }
  });
});

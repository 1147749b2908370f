/**
 * HTTP/2 on the node engine, end to end with the built CLI: over TLS (ALPN h2 and http/1.1 on one
 * port) and h2c with prior knowledge. curl --http2 and node:http2 get the same answers as
 * HTTP/1.1 over the same listener — a synchronous answer, a handler, a streamed body of known and
 * unknown length, an error — and an HTTP/2 client that resets its stream cancels the request (the
 * handler's signal aborts; the access log says 499 SY_ERR_CLIENT_GONE).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { type ClientHttp2Session, connect, constants } from 'node:http2';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { selfSigned } from '../../loadtest/lib/certs.js';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, startCli } from '../helpers/cli.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');
let cli: Cli & { ports: number[] };
let tlsPort: number;
let h2cPort: number;

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-h2-'));
  const { cert, key } = selfSigned(dir, 'h2', '/CN=localhost');
  cli = await startCli(`
listen:
  - { host: 127.0.0.1, port: 0, engine: node, tls: { cert: ${cert}, key: ${key} } }
  - { host: 127.0.0.1, port: 0, engine: node, h2c: true }
log: { level: info, access: stdout }
limits: { header_timeout: 2s }
routes_dir: ${fixtures}
routes:
  - { path: /sync, respond: { body: "sync\\n", headers: { x-a: "1" } } }
  - { path: /sleep, handler: sleep }
  - { path: /stream, handler: stream }
  - { path: /read, handler: read }
`);
  [tlsPort, h2cPort] = cli.ports as [number, number];
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
});

interface Got {
  status: number;
  headers: Record<string, unknown>;
  body: Buffer;
}

function h2get(session: ClientHttp2Session, path: string, method = 'GET', body?: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': path, ':method': method });
    const chunks: Buffer[] = [];
    let head: Record<string, unknown> = {};
    req.on('response', (h) => {
      head = h;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () =>
      resolve({ status: Number(head[':status']), headers: head, body: Buffer.concat(chunks) }),
    );
    req.on('error', reject);
    req.end(body);
  });
}

function h1get(path: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({ host: '127.0.0.1', port: tlsPort, path, rejectUnauthorized: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.end();
  });
}

function curl(args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'curl',
      ['-sk', '--max-time', '20', ...args],
      { encoding: 'latin1', maxBuffer: 1 << 26 },
      (err, out) => (err ? reject(err) : resolve(out)),
    );
  });
}

const paths = [
  '/sync',
  '/sleep?ms=20',
  '/stream?bytes=300000&chunk=7000',
  '/stream?bytes=300000&known=1',
  '/nope',
];

describe('HTTP/2 over TLS (ALPN) and h2c', () => {
  it('curl --http2 over TLS: HTTP/2, and the same status and body as HTTP/1.1 on the same port', async () => {
    for (const p of paths) {
      const v2 = await curl([
        '--http2',
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code} %{size_download}',
        `https://127.0.0.1:${tlsPort}${p}`,
      ]);
      const v1 = await curl([
        '--http1.1',
        '-o',
        '/dev/null',
        '-w',
        '%{http_version} %{http_code} %{size_download}',
        `https://127.0.0.1:${tlsPort}${p}`,
      ]);
      const [ver2, ...rest2] = v2.split(' ');
      const [ver1, ...rest1] = v1.split(' ');
      expect(ver2, p).toBe('2');
      expect(ver1, p).toBe('1.1');
      expect(rest2, p).toEqual(rest1);
    }
  });

  it('node:http2 (TLS and h2c) gets what HTTP/1.1 gets: status, fields, body', async () => {
    const tls = connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
    const h2c = connect(`http://127.0.0.1:${h2cPort}`);
    try {
      for (const p of paths) {
        const [a, b, c] = await Promise.all([h2get(tls, p), h2get(h2c, p), h1get(p)]);
        expect(a.status, p).toBe(c.status);
        expect(b.status, p).toBe(c.status);
        expect(a.body.equals(c.body), p).toBe(true);
        expect(b.body.equals(c.body), p).toBe(true);
        expect(a.headers['content-type'], p).toBe(c.headers['content-type']);
        // RFC 9113 §8.2.2: no connection-specific field in an HTTP/2 response
        for (const k of ['connection', 'keep-alive', 'transfer-encoding'])
          expect(a.headers[k], `${p} ${k}`).toBeUndefined();
      }
      expect((await h2get(tls, '/sync')).headers['x-a']).toBe('1');
      expect((await h2get(tls, '/sync', 'HEAD')).body.length).toBe(0);
      // a request body, read by a handler
      const posted = await h2get(tls, '/read', 'POST', 'x'.repeat(100_000));
      expect(posted.status).toBe(200);
      // node:http2's client sends no Content-Length: the body is framed by DATA and END_STREAM
      expect(JSON.parse(posted.body.toString())).toEqual({ length: 100_000 });
      expect(JSON.parse((await h2get(h2c, '/read', 'POST', 'abc')).body.toString())).toEqual({ length: 3 });
    } finally {
      tls.close();
      h2c.close();
    }
  });

  it('a client stream reset cancels the request: the handler is aborted, logged status 0, closed_by client SY_ERR_CLIENT_GONE', async () => {
    const s = connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
    try {
      const req = s.request({ ':path': '/sleep?ms=30000&tell', 'x-request-id': 'h2-reset-1' });
      req.on('error', () => {});
      await cli.waitFor(/"id":"h2-reset-1".*"msg":"sleeping"/);
      req.close(constants.NGHTTP2_CANCEL);
      await cli.waitFor(/"id":"h2-reset-1".*"status":0.*"closed_by":"client"/);
      expect(cli.stdout()).toMatch(/"id":"h2-reset-1".*"err":"SY_ERR_CLIENT_GONE"/);
      // the session still serves
      expect((await h2get(s, '/sync')).status).toBe(200);
    } finally {
      s.close();
    }
  });

  it('HTTP/1.1 over the TLS listener honours limits.header_timeout: a head that stops arriving gets 408', async () => {
    const sock = tlsConnect({
      host: '127.0.0.1',
      port: tlsPort,
      rejectUnauthorized: false,
      ALPNProtocols: ['http/1.1'],
    });
    try {
      const got = await new Promise<string>((resolve, reject) => {
        let buf = '';
        sock.on('secureConnect', () => sock.write('GET /sync HTTP/1.1\r\nHost: a\r\n'));
        sock.on('data', (d) => {
          buf += d.toString('latin1');
        });
        sock.on('error', reject);
        sock.on('close', () => resolve(buf));
        // node's own default would answer only after 60 s
        setTimeout(() => resolve(`still open: ${buf}`), 30_000);
      });
      expect(got).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      sock.destroy();
    }
  }, 40_000);

  it('HTTP/1.1 over the TLS listener: CONNECT gets 501 and an unknown Expect is served, as on a plain listener', async () => {
    const ask = (raw: string) =>
      new Promise<string>((resolve, reject) => {
        const sock = tlsConnect({
          host: '127.0.0.1',
          port: tlsPort,
          rejectUnauthorized: false,
          ALPNProtocols: ['http/1.1'],
        });
        let buf = '';
        sock.on('secureConnect', () => sock.write(raw));
        sock.on('data', (d) => {
          buf += d.toString('latin1');
          if (buf.includes('\r\n\r\n')) sock.destroy();
        });
        sock.on('error', reject);
        sock.on('close', () => resolve(buf));
      });
    expect(await ask('CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n')).toMatch(/^HTTP\/1\.1 501 /);
    expect(await ask('GET /sync HTTP/1.1\r\nHost: a\r\nExpect: x-custom\r\n\r\n')).toMatch(
      /^HTTP\/1\.1 200 /,
    );
  });
});

/**
 * keepalive_timeout closes an idle HTTP/2 session, never one with a request waiting for its answer;
 * request_timeout cuts a request whose body stops arriving, as on HTTP/1 (logged as the server's).
 */
describe('HTTP/2 timeouts (h2c)', () => {
  let t: Cli & { ports: number[] };
  let port: number;

  beforeAll(async () => {
    t = await startCli(`
listen:
  - { host: 127.0.0.1, port: 0, engine: node, h2c: true }
log: { level: info, access: stdout }
limits: { header_timeout: 1s, keepalive_timeout: 1s, request_timeout: 2s }
routes_dir: ${fixtures}
routes:
  - { path: /sleep, handler: sleep }
  - { path: /read, handler: read }
`);
    port = t.ports[0]!;
  });

  afterAll(async () => {
    t?.kill();
    await t?.exited;
  });

  it('a request whose answer takes longer than keepalive_timeout is answered, and the idle session is closed after it', async () => {
    const s = connect(`http://127.0.0.1:${port}`);
    const closed = new Promise<void>((resolve) => s.on('close', resolve));
    s.on('error', () => {});
    try {
      const got = await h2get(s, '/sleep?ms=2500');
      expect(got.status).toBe(200);
      expect(got.body.toString()).toBe('slept');
      await closed; // no stream open any more: keep-alive closes it
    } finally {
      s.destroy();
    }
  }, 30_000);

  it('a body that stops arriving is reset at request_timeout, logged closed_by server', async () => {
    const s = connect(`http://127.0.0.1:${port}`);
    s.on('error', () => {});
    try {
      const req = s.request({
        ':path': '/read',
        ':method': 'POST',
        'content-length': '10',
        'x-request-id': 'h2-stalled-1',
      });
      req.on('error', () => {});
      req.write('ab');
      const code = await new Promise<number>((resolve) => req.on('close', () => resolve(req.rstCode)));
      expect(code).toBe(constants.NGHTTP2_CANCEL);
      await t.waitFor(/"id":"h2-stalled-1".*"closed_by":"server"/);
    } finally {
      s.destroy();
    }
  }, 30_000);
});

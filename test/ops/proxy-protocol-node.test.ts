/**
 * PROXY protocol on the node engine, which parses v1 and v2 itself (src/server/node/proxy-protocol.ts
 * over src/http/proxy-header.ts): raw bytes for the header's forms and its refusals, then real
 * HAProxy (`send-proxy` and `send-proxy-v2`, Debian's package) in front, with the client on
 * 127.0.0.2 so that the client (from the header) and the peer (HAProxy on 127.0.0.1) differ.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer, type IncomingHttpHeaders } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyHeader } from '../../src/http/proxy-header.js';
import { freePort } from '../helpers/cli.js';
import { exchange, GET, v1, v2 } from '../helpers/proxy-protocol.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { sleep, until } from '../helpers/wait.js';

describe('the header parser (src/http/proxy-header.ts)', () => {
  it('reads v1 and v2, waits for the rest of a partial one, refuses malformed ones', () => {
    expect(parseProxyHeader(v1('203.0.113.7'), 'any')).toMatchObject({
      kind: 'done',
      version: 1,
      source: '203.0.113.7',
    });
    expect(parseProxyHeader(v2('203.0.113.7'), 'any')).toMatchObject({
      kind: 'done',
      version: 2,
      source: '203.0.113.7',
      length: 28,
    });
    expect(parseProxyHeader(v2('2001:db8:0:0:0:0:0:7'), 'any')).toMatchObject({
      source: '2001:db8::7',
      length: 52,
    });
    expect(parseProxyHeader(v2('203.0.113.7', { local: true }), 'any')).toMatchObject({
      kind: 'done',
      source: undefined,
    });
    expect(parseProxyHeader(Buffer.from('PROXY UNKNOWN\r\n'), 'any')).toMatchObject({
      kind: 'done',
      source: undefined,
    });
    expect(parseProxyHeader(v2('203.0.113.7').subarray(0, 20), 'any').kind).toBe('partial');
    expect(parseProxyHeader(Buffer.from('PROXY TCP4 1.2.3.4'), 'any').kind).toBe('partial');
    for (const bad of [
      'PROXY TCP4 1.2.3 10.0.0.1 1 2\r\n',
      'PROXY TCP4 1.2.3.4 10.0.0.1 1 65536\r\n',
      'PROXY TCP6 1.2.3.4 10.0.0.1 1 2\r\n',
      `PROXY TCP4 ${'1'.repeat(120)}`,
      'GET / HTTP/1.1\r\n',
    ]) {
      expect(parseProxyHeader(Buffer.from(bad), 'any').kind, bad).toBe('error');
    }
    expect(parseProxyHeader(v1('203.0.113.7'), 'v2').kind).toBe('error');
    expect(parseProxyHeader(v2('203.0.113.7'), 'v1').kind).toBe('error');
  });
});

describe('proxy_protocol on the node engine (raw bytes)', () => {
  let up: HttpServer;
  const seen: IncomingHttpHeaders[] = [];
  let s: TestServer | undefined;

  beforeAll(async () => {
    up = createServer((req, res) => {
      seen.push(req.headers);
      res.end('up');
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
  });
  afterAll(() => new Promise((r) => up.close(r)));
  afterEach(async () => {
    await s?.close();
    s = undefined;
  });

  const serve = (
    trusted: string,
    listen = '{ host: 127.0.0.1, port: 0, engine: node, proxy_protocol: true }',
  ) =>
    startServer(`
listen: [${listen}]
trusted_proxies: [${trusted}]
upstreams:
  up: { servers: [{ url: "http://127.0.0.1:${(up.address() as { port: number }).port}" }] }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: /r, respond: { body: "r" }, rate: { limit: 1/m, burst: 0 } }
  - { path: "/up/*", proxy: up }
`);

  it('v1 and v2 (IPv4, IPv6) from a trusted peer: the client in the log and X-Forwarded-For; peer stays', async () => {
    s = await serve('loopback');
    for (const [header, client] of [
      [v1('203.0.113.7'), '203.0.113.7'],
      [v2('203.0.113.8'), '203.0.113.8'],
      [v2('2001:db8:0:0:0:0:0:9'), '2001:db8::9'],
    ] as const) {
      const r = await exchange(s.port, Buffer.concat([header, GET(`/up/${client}`)]));
      expect(r.text).toMatch(/^HTTP\/1\.1 200/);
      expect(seen.at(-1)!['x-forwarded-for']).toBe(client);
      const line = await s.accessFor(`/up/${client}`);
      expect(line).toMatchObject({ client, peer: '127.0.0.1', status: 200 });
    }
  });

  it('a header split across packets, and pipelined requests after it, on one connection', async () => {
    s = await serve('loopback');
    const h = v2('203.0.113.10');
    const r = await exchange(
      s.port,
      h.subarray(0, 5),
      h.subarray(5, 20),
      Buffer.concat([h.subarray(20), GET('/a')]),
      GET('/a'),
    );
    expect(r.text.match(/HTTP\/1\.1 200/g)).toHaveLength(2);
    await until(() => s!.access.filter((l) => l.client === '203.0.113.10').length === 2, 'two access lines');
  });

  it('LOCAL (a balancer health check) is served as the peer itself', async () => {
    s = await serve('loopback');
    const r = await exchange(s.port, Buffer.concat([v2('203.0.113.7', { local: true }), GET('/a')]));
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    expect(await s.accessFor('/a')).toMatchObject({ client: '127.0.0.1', peer: '127.0.0.1' });
  });

  it('no header, an untrusted peer, or garbage: 400 SY_ERR_PROXY_PROTOCOL and closed, never believed', async () => {
    s = await serve('loopback');
    const none = await exchange(s.port, GET('/a'));
    expect(none.text).toMatch(/^HTTP\/1\.1 400/);
    expect(none.closed).toBe(true);
    expect(await s.accessFor('/a')).toMatchObject({
      status: 400,
      err: 'SY_ERR_PROXY_PROTOCOL',
      client: '127.0.0.1',
    });
    const garbage = await exchange(s.port, Buffer.from('PROXY TCP4 nonsense\r\nGET /a HTTP/1.1\r\n\r\n'));
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400/);
    expect(garbage.text).toMatch(/SY_ERR_PROXY_PROTOCOL/);
    expect(garbage.closed).toBe(true);
    await s.close();

    s = await serve('10.0.0.0/8');
    const untrusted = await exchange(s.port, Buffer.concat([v1('203.0.113.7'), GET('/up/x')]));
    expect(untrusted.text).toMatch(/^HTTP\/1\.1 400/);
    expect(untrusted.closed).toBe(true);
    expect(await s.accessFor('/up/x')).toMatchObject({
      status: 400,
      err: 'SY_ERR_PROXY_PROTOCOL',
      client: '127.0.0.1',
    });
  });

  it('proxy_protocol: v2 refuses a v1 header', async () => {
    s = await serve('loopback', '{ host: 127.0.0.1, port: 0, engine: node, proxy_protocol: v2 }');
    const r = await exchange(s.port, Buffer.concat([v1('203.0.113.7'), GET('/a')]));
    expect(r.text).toMatch(/^HTTP\/1\.1 400/);
    expect(r.closed).toBe(true);
  });

  it('rate limits key on the PROXY source: each client its own bucket', async () => {
    s = await serve('loopback');
    const status = async (src: string) =>
      (await exchange(s!.port, Buffer.concat([v1(src), GET('/r')]))).text.slice(9, 12);
    expect(await status('203.0.113.1')).toBe('200');
    expect(await status('203.0.113.1')).toBe('429');
    expect(await status('203.0.113.2')).toBe('200');
  });

  it('TLS: the header comes before the handshake; the client is the source', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-pp-tls-'));
    execFileSync(
      'openssl',
      ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout'].concat([
        join(dir, 'k.pem'),
        '-out',
        join(dir, 'c.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=pp',
      ]),
      { stdio: 'ignore' },
    );
    s = await serve(
      'loopback',
      `{ host: 127.0.0.1, port: 0, engine: node, proxy_protocol: true, tls: { cert: ${dir}/c.pem, key: ${dir}/k.pem } }`,
    );
    const text = await new Promise<string>((resolve, reject) => {
      const raw = connect(s!.port, '127.0.0.1', () => {
        raw.write(v2('203.0.113.20'));
        const t = tlsConnect({ socket: raw, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () =>
          t.write('GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n'),
        );
        let out = '';
        t.on('data', (d) => {
          out += d;
        });
        t.on('end', () => resolve(out));
        t.on('error', reject);
      });
    });
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(await s.accessFor('/a')).toMatchObject({ client: '203.0.113.20', peer: '127.0.0.1' });
  });
});

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

describe.skipIf(HAPROXY === undefined)('behind HAProxy send-proxy and send-proxy-v2 (node engine)', () => {
  it.each(['send-proxy', 'send-proxy-v2'])(
    '%s: the client address reaches the access log and X-Forwarded-For',
    async (mode) => {
      const seen: IncomingHttpHeaders[] = [];
      const up = createServer((req, res) => {
        seen.push(req.headers);
        res.end('up');
      });
      await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
      const s = await startServer(`
listen: [{ host: 127.0.0.1, port: 0, engine: node, proxy_protocol: true }]
trusted_proxies: [127.0.0.1]
upstreams:
  up: { servers: [{ url: "http://127.0.0.1:${(up.address() as { port: number }).port}" }] }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: "/up/*", proxy: up }
`);
      const dir = mkdtempSync(join(tmpdir(), 'sy-pp-haproxy-'));
      const front = await freePort();
      writeFileSync(
        join(dir, 'haproxy.cfg'),
        `global
  maxconn 64
defaults
  mode tcp
  timeout connect 1s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:${front}
  default_backend be
backend be
  server s 127.0.0.1:${s.port} ${mode}
`,
      );
      const ha = spawn(HAPROXY!, ['-db', '-f', join(dir, 'haproxy.cfg')], { stdio: 'ignore' });
      try {
        const get = (path: string) =>
          new Promise<string>((resolve, reject) => {
            const c = connect({ port: front, host: '127.0.0.1', localAddress: '127.0.0.2' }, () =>
              c.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
            );
            let out = '';
            c.on('data', (d) => {
              out += d;
            });
            c.on('end', () => resolve(out));
            c.on('error', reject);
          });
        // HAProxy is up once a request through it is answered
        for (let i = 0; !/^HTTP\/1\.1 200/.test(await get('/a').catch(() => '')); i++) {
          if (i > 500) throw new Error('HAProxy never forwarded');
          await sleep(20);
        }
        expect(await get('/up/x')).toMatch(/^HTTP\/1\.1 200/);
        expect(seen.at(-1)!['x-forwarded-for']).toBe('127.0.0.2');
        expect(await s.accessFor('/up/x')).toMatchObject({
          client: '127.0.0.2',
          peer: '127.0.0.1',
          status: 200,
        });
      } finally {
        ha.kill('SIGKILL');
        await s.close();
        await new Promise((r) => up.close(r));
      }
    },
  );
});

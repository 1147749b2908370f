/**
 * Header rules both ways, forwarding headers and trust, Host handling, path rewriting, and the
 * path-confusion forms that must not reach another route. Raw sockets where the exact bytes matter.
 */
import type http from 'node:http';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { uwsGapIt } from '../helpers/engines.js';
import { get } from '../helpers/http.js';
import { raw } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { absenceWindow } from '../helpers/timing.js';
import { httpUpstream, rawUpstream, type Upstream } from '../helpers/upstreams.js';
import { sleep, until } from '../helpers/wait.js';

/** What the upstream received: method, url, raw header lines (in order). */
interface Seen {
  method: string;
  url: string;
  raw: string[];
  headers: http.IncomingHttpHeaders;
}

let echo: Upstream & { server: http.Server };
let last: Seen | undefined;
let proxy: TestServer;
let trustedProxy: TestServer;
let hostProxy: TestServer;

beforeAll(async () => {
  echo = await httpUpstream((req, res) => {
    last = { method: req.method!, url: req.url!, raw: req.rawHeaders, headers: req.headers };
    req.resume();
    req.on('end', () => {
      const extra: Record<string, string> = {};
      const ask = req.headers['x-respond-with'];
      if (typeof ask === 'string')
        for (const kv of ask.split(';')) extra[kv.split('=')[0]!] = kv.split('=')[1]!;
      res.writeHead(200, { 'content-type': 'text/plain', ...extra });
      res.end('ok');
    });
  });
  const routes = `
upstreams:
  echo: { servers: [{ url: "${echo.url}" }] }
routes:
  - path: "/api/*"
    proxy: echo
    strip_prefix: /api
    request_headers: { set: { x-set: forced }, add: { x-added: yes }, remove: [x-secret] }
    response_headers: { set: { x-frame-options: DENY }, add: { x-served-by: switchyard }, remove: [x-powered-by] }
  - { path: "/v2/*", proxy: echo, strip_prefix: /v2, add_prefix: /internal/ }
  - { path: "/public/*", proxy: echo }
  - { path: "/admin", respond: { status: 403, body: "admin\\n" } }
  - { path: "/up/*", proxy: echo, host_header: upstream }
  - { path: "/fixed/*", proxy: echo, host_header: backend.example }
`;
  proxy = await startServer(`listen: [{ host: 127.0.0.1, port: 0, chunked_requests: accept }]\n${routes}`);
  trustedProxy = await startServer(`trusted_proxies: [loopback]\n${routes}`);
  hostProxy = proxy;
});

afterAll(async () => {
  await proxy.close();
  await trustedProxy.close();
  await echo.close();
});

function rawNames(s: Seen): string[] {
  return s.raw.filter((_, i) => i % 2 === 0).map((n) => n.toLowerCase());
}

describe('request headers', () => {
  it('drops hop-by-hop fields and every name listed in Connection', async () => {
    const res = (
      await raw(
        proxy.port,
        'GET /api/h HTTP/1.1\r\nHost: front.example\r\n' +
          'Connection: keep-alive, X-Hop, x-other\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n' +
          'Trailer: x-t\r\nUpgrade: websocket\r\nProxy-Connection: keep-alive\r\n' +
          'Proxy-Authorization: Basic Zm9vOmJhcg==\r\nX-Hop: 1\r\nX-Other: 2\r\nX-Keep: 3\r\n\r\n',
        300,
      )
    ).text;
    expect(res).toMatch(/^HTTP\/1\.1 200/);
    const names = rawNames(last!);
    for (const n of [
      'keep-alive',
      'te',
      'trailer',
      'upgrade',
      'proxy-connection',
      'proxy-authorization',
      'x-hop',
      'x-other',
    ])
      expect(names).not.toContain(n);
    expect(last!.headers['x-keep']).toBe('3');
    // undici's own framing: one connection field, its own keep-alive
    expect(names.filter((n) => n === 'connection')).toHaveLength(1);
    expect(last!.headers.connection).toBe('keep-alive');
  });

  it('never forwards framing fields blindly: Expect, Transfer-Encoding, duplicate hosts', async () => {
    const r = await get(`${proxy.url}/api/post`, {
      method: 'POST',
      headers: { expect: '100-continue', 'content-type': 'text/plain', 'content-length': '5' },
      body: 'hello',
    });
    expect(r.status).toBe(200);
    expect(last!.headers.expect).toBeUndefined();
    expect(last!.headers['content-length']).toBe('5');
    expect(rawNames(last!).filter((n) => n === 'host')).toHaveLength(1);
    // chunked from the client: chunked upstream too, no Content-Length invented
    const res = (
      await raw(
        proxy.port,
        'POST /api/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
        300,
      )
    ).text;
    expect(res).toMatch(/^HTTP\/1\.1 200/);
    expect(last!.headers['transfer-encoding']).toBe('chunked');
    expect(last!.headers['content-length']).toBeUndefined();
  });

  it('applies the route rules: set replaces, add appends, remove drops', async () => {
    await get(`${proxy.url}/api/rules`, {
      headers: { 'x-set': 'client', 'x-secret': 's3cret', 'x-added': 'client' },
    });
    expect(last!.headers['x-set']).toBe('forced');
    expect(last!.headers['x-secret']).toBeUndefined();
    expect(last!.headers['x-added']).toBe('client, yes');
  });

  it('X-Forwarded-For from an untrusted client is replaced; Proto and Host are ours', async () => {
    await get(`${proxy.url}/api/xff`, {
      headers: {
        'x-forwarded-for': '6.6.6.6',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'evil.example',
        forwarded: 'for=6.6.6.6',
        'x-real-ip': '6.6.6.6',
        host: 'front.example:8080',
      },
    });
    expect(last!.headers['x-forwarded-for']).toBe('127.0.0.1');
    expect(last!.headers['x-forwarded-proto']).toBe('http');
    expect(last!.headers['x-forwarded-host']).toBe('front.example:8080');
    expect(last!.headers.forwarded).toBeUndefined();
    expect(last!.headers['x-real-ip']).toBeUndefined();
  });

  it('X-Forwarded-For from a trusted proxy is appended to; its Proto and Host pass', async () => {
    await get(`${trustedProxy.url}/api/xff`, {
      headers: {
        'x-forwarded-for': '203.0.113.7, 10.0.0.2',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'shop.example',
        forwarded: 'for=203.0.113.7',
      },
    });
    expect(last!.headers['x-forwarded-for']).toBe('203.0.113.7, 10.0.0.2, 127.0.0.1');
    expect(last!.headers['x-forwarded-proto']).toBe('https');
    expect(last!.headers['x-forwarded-host']).toBe('shop.example');
    expect(last!.headers.forwarded).toBe('for=203.0.113.7');
  });

  it('passes a sane X-Request-Id and creates one otherwise', async () => {
    await get(`${proxy.url}/api/id`, { headers: { 'x-request-id': 'abc-123' } });
    expect(last!.headers['x-request-id']).toBe('abc-123');
    await get(`${proxy.url}/api/id`, { headers: { 'x-request-id': 'bad id with spaces' } });
    const id = last!.headers['x-request-id'] as string;
    expect(id).toMatch(/^[A-Za-z0-9._:-]+$/);
    expect(id).not.toContain('bad');
    const line = await proxy.accessFor('/api/id');
    expect(line.id).toBe('abc-123');
  });

  it("Host: passes the client's, or sets the upstream's, or a fixed value", async () => {
    await get(`${hostProxy.url}/api/h`, { headers: { host: 'front.example' } });
    expect(last!.headers.host).toBe('front.example');
    await get(`${hostProxy.url}/up/h`, { headers: { host: 'front.example' } });
    expect(last!.headers.host).toBe(`127.0.0.1:${echo.port}`);
    await get(`${hostProxy.url}/fixed/h`, { headers: { host: 'front.example' } });
    expect(last!.headers.host).toBe('backend.example');
  });

  // Known gap (engine): uWS 20.30 drops bytes >= 0x80 from request header values before we see
  // them (measured: `café 中` arrives as `caf`), so they cannot be forwarded. The proxy re-encodes
  // what it is given (UTF-8 string -> latin1 for undici); this test turns green with an engine that
  // delivers the bytes.
  uwsGapIt(
    "re-encodes non-ASCII values so the upstream gets the client's bytes (known gap: uWS)",
    async () => {
      const value = Buffer.from('café 中', 'utf8');
      const head = Buffer.concat([
        Buffer.from('GET /api/utf8 HTTP/1.1\r\nHost: x\r\nX-Name: ', 'latin1'),
        value,
        Buffer.from('\r\n\r\n', 'latin1'),
      ]);
      const res = (await raw(proxy.port, head.toString('latin1'), 300)).text;
      expect(res).toMatch(/^HTTP\/1\.1 200/);
      const i = last!.raw.findIndex((n) => n.toLowerCase() === 'x-name');
      expect(Buffer.from(last!.raw[i + 1]!, 'latin1')).toEqual(value);
    },
  );
});

describe('response headers', () => {
  it('drops hop-by-hop and Connection-named fields, never duplicates framing', async () => {
    const up = await rawUpstream((socket) => {
      socket.write(
        'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=30\r\n' +
          'X-Private: secret\r\nProxy-Authenticate: Basic\r\nTrailer: x-t\r\nUpgrade: h2c\r\n' +
          'Date: Mon, 01 Jan 2001 00:00:00 GMT\r\nX-Public: 1\r\n\r\nok',
      );
    });
    const p = await startServer(`
upstreams: { r: { servers: [{ url: "${up.url}" }] } }
routes: [{ path: "/*", proxy: r }]
`);
    try {
      const res = (await raw(p.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 500)).text;
      const head = res.slice(0, res.indexOf('\r\n\r\n')).toLowerCase();
      const names = head
        .split('\r\n')
        .slice(1)
        .map((l) => l.slice(0, l.indexOf(':')));
      for (const n of ['keep-alive', 'x-private', 'proxy-authenticate', 'trailer', 'upgrade'])
        expect(names).not.toContain(n);
      expect(names).toContain('x-public');
      for (const n of ['content-length', 'date']) expect(names.filter((x) => x === n)).toHaveLength(1);
      expect(head).not.toContain('2001');
      expect(res.endsWith('\r\n\r\nok')).toBe(true);
    } finally {
      await p.close();
      await up.close();
    }
  });

  it('applies the route rules', async () => {
    const r = await get(`${proxy.url}/api/resp`, {
      headers: { 'x-respond-with': 'x-powered-by=php;x-frame-options=ALLOW;x-served-by=upstream' },
    });
    expect(r.headers['x-powered-by']).toBeUndefined();
    expect(r.headers['x-frame-options']).toBe('DENY');
    expect(r.headers['x-served-by']).toBe('upstream, switchyard');
  });

  it('remembered head shapes: every head still gets its own values, Connection names and length', async () => {
    // Same names in the same order (one remembered shape) with changing values, a Connection
    // value that changes what is dropped, a control byte after a clean head, then more shapes
    // than a route remembers and back (response-headers.ts, shape.ts).
    const heads: Record<string, string> = {
      a: 'Content-Length: 2\r\nConnection: X-A\r\nX-A: 1\r\nX-B: v1\r\n\r\nok',
      b: 'Content-Length: 2\r\nConnection: X-B\r\nX-A: 1\r\nX-B: v1\r\n\r\nok',
      c: 'Content-Length: 3\r\nConnection: X-A\r\nX-A: 1\r\nX-B: v2\r\n\r\nabc',
      d: 'Content-Length: 2\r\nConnection: X-A\r\nX-A: 1\r\nX-B: v\x01\r\n\r\nok',
      e: 'Content-Length: 2\r\nx-b: lower\r\n\r\nok',
      f: 'Content-Length: 2\r\nX-C: 1\r\n\r\nok',
      g: 'Content-Length: 2\r\nX-D: 1\r\nX-D: 2\r\n\r\nok',
      h: 'Content-Length: 2\r\nX-E: 1\r\n\r\nok',
    };
    const up = await rawUpstream((socket, head) => {
      const key = /^GET \/(\w)/.exec(head)![1]!;
      socket.write(`HTTP/1.1 200 OK\r\n${heads[key]}`);
    });
    const p = await startServer(`
upstreams: { r: { servers: [{ url: "${up.url}" }] } }
routes: [{ path: "/*", proxy: r }]
`);
    const fetchHead = async (key: string) => {
      const res = (await raw(p.port, `GET /${key} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 500))
        .text;
      const end = res.indexOf('\r\n\r\n');
      const lines = res.slice(0, end).split('\r\n');
      const fields = lines.slice(1).map((l) => l.toLowerCase());
      return { status: lines[0]!, fields, body: res.slice(end + 4) };
    };
    try {
      for (let round = 0; round < 2; round++) {
        const a = await fetchHead('a');
        expect(a.fields).toContain('x-b: v1');
        expect(a.fields.some((f) => f.startsWith('x-a:'))).toBe(false);
        const b = await fetchHead('b');
        expect(b.fields).toContain('x-a: 1');
        expect(b.fields.some((f) => f.startsWith('x-b:'))).toBe(false);
        const c = await fetchHead('c');
        expect(c.fields).toContain('x-b: v2');
        expect(c.fields).toContain('content-length: 3');
        expect(c.body).toBe('abc');
        const d = await fetchHead('d');
        expect(d.status).toContain('502');
        expect((await fetchHead('e')).fields).toContain('x-b: lower');
        expect((await fetchHead('f')).fields).toContain('x-c: 1');
        const g = await fetchHead('g');
        expect(g.fields.filter((f) => f.startsWith('x-d:'))).toEqual(['x-d: 1', 'x-d: 2']);
        expect((await fetchHead('h')).fields).toContain('x-e: 1');
      }
    } finally {
      await p.close();
      await up.close();
    }
  });

  it('passes UTF-8 bytes in upstream values through unchanged', async () => {
    const up = await rawUpstream((socket) => {
      socket.write(
        Buffer.concat([
          Buffer.from(
            'HTTP/1.1 200 OK\r\nContent-Length: 0\r\nContent-Disposition: attachment; filename="',
            'latin1',
          ),
          Buffer.from('naïve.txt', 'utf8'),
          Buffer.from('"\r\n\r\n', 'latin1'),
        ]),
      );
    });
    const p = await startServer(`
upstreams: { r: { servers: [{ url: "${up.url}" }] } }
routes: [{ path: "/*", proxy: r }]
`);
    try {
      const res = (await raw(p.port, 'GET /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 500)).text;
      const buf = Buffer.from(res, 'latin1');
      expect(buf.includes(Buffer.from('naïve.txt', 'utf8'))).toBe(true);
    } finally {
      await p.close();
      await up.close();
    }
  });
});

describe('paths', () => {
  it('strips the prefix and sends the normalised path exactly, query untouched', async () => {
    await get(`${proxy.url}/api/a/./b//c/../d?x=%2e%2e&y=1`);
    expect(last!.url).toBe('/a/b/d?x=%2e%2e&y=1');
    await get(`${proxy.url}/api`);
    expect(last!.url).toBe('/');
    await get(`${proxy.url}/v2/items/1`);
    expect(last!.url).toBe('/internal/items/1');
    // encoded slashes stay encoded (never decoded into a separator)
    await get(`${proxy.url}/public/a%2fb`);
    expect(last!.url).toBe('/public/a%2Fb');
  });

  it.each([
    '/public/../admin',
    '/public/%2e%2e/admin',
    '/public/%2E%2E/admin',
    '/public/.%2e/admin',
    '/public/./../admin',
  ])('%s is routed as /admin, never proxied under /public', async (path) => {
    last = undefined;
    const res = (await raw(proxy.port, `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 500))
      .text;
    expect(res).toMatch(/^HTTP\/1\.1 403/);
    expect(res).toContain('admin\n');
    expect(last).toBeUndefined();
  });

  it('refuses traversal above the root and a query with control bytes', async () => {
    const up = (
      await raw(proxy.port, 'GET /public/../../etc HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 500)
    ).text;
    expect(up).toMatch(/^HTTP\/1\.1 400/);
    last = undefined;
    const q = (
      await raw(proxy.port, 'GET /public/x?a=\x01 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', 500)
    ).text;
    if (q !== '') expect(q).toMatch(/^HTTP\/1\.1 400/); // uWS may refuse it before we see it
    expect(last).toBeUndefined();
  });
});

describe('framing of proxied responses', () => {
  let up: Upstream;
  let p: TestServer;
  beforeAll(async () => {
    up = await httpUpstream((req, res) => {
      req.resume();
      if (req.url === '/204') {
        res.writeHead(204, { 'x-kind': 'none' });
        res.end();
      } else if (req.url === '/304') {
        res.writeHead(304, { etag: '"v1"' });
        res.end();
      } else if (req.url === '/chunked') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('hello ');
        setTimeout(() => res.end('world'), 20);
      } else if (req.url === '/big') {
        res.writeHead(200, { 'content-length': String(3 * 1024 * 1024) });
        res.end(Buffer.alloc(3 * 1024 * 1024, 'b'));
      } else {
        res.writeHead(200, { 'content-length': '5', 'content-type': 'text/plain' });
        res.end(req.method === 'HEAD' ? undefined : 'hello');
      }
    });
    p = await startServer(`
upstreams: { f: { servers: [{ url: "${up.url}" }] } }
routes: [{ path: "/*", proxy: f }]
`);
  });
  afterAll(async () => {
    await p.close();
    await up.close();
  });

  it('HEAD carries the upstream Content-Length and no body; the connection stays usable', async () => {
    // (one request at a time: uWS closes a connection whose pipelined requests are answered async)
    const s = net.connect(p.port, '127.0.0.1');
    let got = '';
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.write('HEAD /h HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.includes('\r\n\r\n'), 'the HEAD response');
    await sleep(await absenceWindow(50)); // a body, if one were (wrongly) sent, would arrive by now
    const head = got;
    got = '';
    s.write('GET /h HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => got.endsWith('hello'), 'the GET response');
    s.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 200/);
    expect(head.toLowerCase()).toContain('content-length: 5');
    expect(head.endsWith('\r\n\r\n')).toBe(true);
    expect(got).toMatch(/^HTTP\/1\.1 200[\s\S]*\r\n\r\nhello$/);
  });

  it('204 and 304 pass without a body', async () => {
    const a = await get(`${p.url}/204`);
    expect(a).toMatchObject({ status: 204, body: '', complete: true });
    expect(a.headers['x-kind']).toBe('none');
    const b = await get(`${p.url}/304`);
    expect(b).toMatchObject({ status: 304, body: '' });
    expect(b.headers.etag).toBe('"v1"');
  });

  it('a chunked upstream response streams chunked; a large one keeps its length', async () => {
    const c = await get(`${p.url}/chunked`);
    expect(c).toMatchObject({ status: 200, body: 'hello world', complete: true });
    expect(c.headers['transfer-encoding']).toBe('chunked');
    const big = await get(`${p.url}/big`);
    expect(big.headers['content-length']).toBe(String(3 * 1024 * 1024));
    expect(big.body).toBe('b'.repeat(3 * 1024 * 1024));
  });
});

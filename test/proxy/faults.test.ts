/**
 * Upstream faults, scripted on raw TCP servers, and what the client and the access log see:
 * nginx's retry rules (only before the response, idempotent unless opted in, within tries),
 * status mapping (502 / 504 / 503; a client gone: no status), passive and active health, panic.
 */
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { localPace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { httpUpstream, namedUpstream, rawUpstream, refusedPort } from '../helpers/upstreams.js';
import { until } from '../helpers/wait.js';

const later = closeAfterEach();

async function proxyTo(urls: string[], extra = '', route = ''): Promise<TestServer> {
  const servers = urls.map((u) => `{ url: "${u}" }`).join(', ');
  return later(
    await startServer(`
upstreams:
  u:
    servers: [${servers}]
${extra.replace(/^/gm, '    ')}
routes: [{ path: "/*", proxy: u${route} }]
`),
  );
}

const OK = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

describe('connection refused', () => {
  it('answers 502 with one try when it is the only server', async () => {
    const port = await refusedPort();
    const p = await proxyTo([`http://127.0.0.1:${port}`]);
    const r = await get(`${p.url}/a`);
    expect(r.status).toBe(502);
    expect(r.body).toContain('SY_ERR_UPSTREAM_CONNECT');
    const log = await p.accessFor('/a');
    expect(log).toMatchObject({
      status: 502,
      err: 'SY_ERR_UPSTREAM_CONNECT',
      tries: 1,
      upstream: `127.0.0.1:${port}`,
    });
  });

  it('goes to the next server, even for a POST with a body (nothing was sent)', async () => {
    const port = await refusedPort();
    let got = '';
    const b = later(
      await httpUpstream((req, res) => {
        req.setEncoding('utf8');
        req.on('data', (d: string) => {
          got += d;
        });
        req.on('end', () => res.end('b'));
      }),
    );
    const p = await proxyTo([`http://127.0.0.1:${port}`, b.url], 'balance: round-robin');
    const r = await get(`${p.url}/post`, {
      method: 'POST',
      body: 'payload',
      headers: { 'content-length': '7' },
    });
    expect(r.status).toBe(200);
    expect(r.body).toBe('b');
    expect(got).toBe('payload');
    const log = await p.accessFor('/post');
    expect(log).toMatchObject({ status: 200, tries: 2, upstream: `127.0.0.1:${port}, 127.0.0.1:${b.port}` });
    expect(log.upstream_errors).toEqual(['SY_ERR_UPSTREAM_CONNECT']);
  });
});

describe('reset before the response head', () => {
  const resetter = () => rawUpstream((socket) => socket.resetAndDestroy());

  it('a GET goes to the next server', async () => {
    const a = later(await resetter());
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url]);
    const r = await get(`${p.url}/g`);
    expect(r).toMatchObject({ status: 200, body: 'b' });
    expect(a.hits).toBe(1);
    expect((await p.accessFor('/g')).tries).toBe(2);
  });

  it('a POST is not retried: 502, and the upstream saw it once', async () => {
    const a = later(await resetter());
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url]);
    const r = await get(`${p.url}/p`, { method: 'POST', body: 'x', headers: { 'content-length': '1' } });
    expect(r.status).toBe(502);
    expect(r.body).toContain('SY_ERR_UPSTREAM_RESET');
    expect(a.hits).toBe(1);
    expect(b.hits).toBe(0);
  });

  it('a bodiless POST is retried when the upstream opts in (retries.non_idempotent)', async () => {
    const a = later(await resetter());
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url], 'retries: { tries: 2, non_idempotent: true }');
    const r = await get(`${p.url}/p`, { method: 'POST', headers: { 'content-length': '0' } });
    expect(r).toMatchObject({ status: 200, body: 'b' });
  });

  it('gives up after retries.tries attempts', async () => {
    const ups = [later(await resetter()), later(await resetter()), later(await resetter())];
    const p = await proxyTo(
      ups.map((u) => u.url),
      'retries: { tries: 2 }',
    );
    const r = await get(`${p.url}/t`);
    expect(r.status).toBe(502);
    expect(ups.reduce((n, u) => n + u.hits, 0)).toBe(2);
    expect((await p.accessFor('/t')).tries).toBe(2);
  });
});

describe('timeouts', () => {
  it('no response head within timeouts.headers: 504', async () => {
    const a = later(await rawUpstream(() => {}));
    const p = await proxyTo([a.url], 'timeouts: { headers: 150ms }');
    const paceMs = await localPace();
    const t0 = performance.now();
    const r = await get(`${p.url}/slow`);
    const ms = performance.now() - t0;
    expect(r.status).toBe(504);
    expect(r.body).toContain('SY_ERR_UPSTREAM_TIMEOUT');
    expect(ms).toBeGreaterThan(140);
    expect(ms).toBeLessThan(scaled(1000, paceMs, QUIET_PACE_MS.local));
  });

  it('a header timeout on one server is retried on the next (GET)', async () => {
    const a = later(await rawUpstream(() => {}));
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url], 'timeouts: { headers: 100ms }');
    const r = await get(`${p.url}/slow`);
    expect(r).toMatchObject({ status: 200, body: 'b' });
  });

  it('the route timeout bounds everything: 504, and the upstream request is closed', async () => {
    let closed = false;
    const a = later(
      await rawUpstream((socket) => {
        socket.on('close', () => {
          closed = true;
        });
      }),
    );
    const p = await proxyTo([a.url], 'timeouts: { headers: 10s }', ', timeout: 150ms');
    const r = await get(`${p.url}/route`);
    expect(r.status).toBe(504);
    expect(r.body).toContain('SY_ERR_TIMEOUT');
    await until(() => closed, 'the upstream socket to close');
  });
});

describe('failures mid-body close the client connection', () => {
  it('an upstream that stalls mid-body (idle timeout): the response is cut, never complete', async () => {
    const a = later(
      await rawUpstream((socket) => {
        socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n');
        socket.write('x'.repeat(100));
      }),
    );
    const p = await proxyTo([a.url], 'timeouts: { idle: 150ms }');
    const r = await get(`${p.url}/stall`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body.length).toBe(100);
    const log = await p.accessFor('/stall');
    expect(log.err).toBe('SY_ERR_UPSTREAM_TIMEOUT');
  });

  it('an upstream that dies mid-body (chunked): the client connection is closed', async () => {
    const a = later(
      await rawUpstream((socket) => {
        socket.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n');
        setTimeout(() => socket.destroy(), 30);
      }),
    );
    const p = await proxyTo([a.url]);
    const r = await get(`${p.url}/die`);
    expect(r.status).toBe(200);
    expect(r.complete).toBe(false);
    expect(r.body).toBe('hello');
  });
});

describe('malformed responses', () => {
  it.each([
    ['a bad status line', 'HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n'],
    ['garbage', 'SSH-2.0-OpenSSH_9.2\r\n\r\n'],
    ['a bad header', 'HTTP/1.1 200 OK\r\nBad Header: x\r\nContent-Length: 0\r\n\r\n'],
  ])('%s: 502, not retried', async (_what, reply) => {
    const a = later(await rawUpstream((socket) => socket.write(reply)));
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url]);
    const r = await get(`${p.url}/m`);
    expect(r.status).toBe(502);
    expect(r.body).toContain('SY_ERR_UPSTREAM_BAD_RESPONSE');
    expect(b.hits).toBe(0);
  });
});

describe('a keep-alive socket closed by the upstream just as a request is sent', () => {
  /** Answers the first request on each connection; closes the connection on the second. */
  const closesSecond = () =>
    rawUpstream((socket, _head, n) => {
      if (n === 0) socket.write(OK);
      else socket.destroy();
    });

  it('a GET is retried once on a fresh connection and the client sees 200', async () => {
    const a = later(await closesSecond());
    const p = await proxyTo([a.url]);
    expect((await get(`${p.url}/1`)).status).toBe(200);
    const r = await get(`${p.url}/2`);
    expect(r).toMatchObject({ status: 200, body: 'ok' });
    expect(a.hits).toBe(3);
    const log = await p.accessFor('/2');
    expect(log).toMatchObject({ tries: 2, upstream_errors: ['SY_ERR_UPSTREAM_RESET'] });
  });

  it('a PUT with a small body is retried too, the body sent again whole (as nginx, which buffers it)', async () => {
    const bodies: string[] = [];
    const a = later(
      await rawUpstream((socket, _head, n, _u, body) => {
        if (n === 0) {
          bodies.push(body);
          socket.write(OK);
        } else socket.destroy();
      }),
    );
    const p = await proxyTo([a.url]);
    expect((await get(`${p.url}/1`)).status).toBe(200);
    const put = { method: 'PUT', body: 'data', headers: { 'content-length': '4' } };
    const r = await get(`${p.url}/2`, put);
    expect(r).toMatchObject({ status: 200, body: 'ok' });
    expect(bodies).toEqual(['', 'data']); // the GET's, then the PUT's on the fresh connection
    expect(await p.accessFor('/2')).toMatchObject({ tries: 2, upstream_errors: ['SY_ERR_UPSTREAM_RESET'] });
  });

  it('a PUT whose body is over the replay cap (64 KiB) is not retried: 502', async () => {
    const a = later(await closesSecond());
    const p = await proxyTo([a.url]);
    expect((await get(`${p.url}/1`)).status).toBe(200);
    const big = 'x'.repeat(70_000);
    const r = await get(`${p.url}/2`, { method: 'PUT', body: big, headers: { 'content-length': '70000' } });
    expect(r.status).toBe(502);
    expect((await p.accessFor('/2')).tries).toBe(1);
  });

  it('a POST is not retried: 502, and the upstream saw it once', async () => {
    const a = later(await closesSecond());
    const p = await proxyTo([a.url]);
    expect((await get(`${p.url}/1`)).status).toBe(200);
    const r = await get(`${p.url}/2`, { method: 'POST', body: 'data', headers: { 'content-length': '4' } });
    expect(r.status).toBe(502);
    expect(a.hits).toBe(2);
    expect((await p.accessFor('/2')).tries).toBe(1);
  });
});

describe('health', () => {
  it('passive: max_fails within fail_timeout marks a server down for that long', async () => {
    let failing = true;
    const a = later(
      await httpUpstream((req, res) => {
        if (failing) req.socket.resetAndDestroy();
        else res.end('a');
      }),
    );
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url], 'health: { max_fails: 2, fail_timeout: 300ms }');
    for (let i = 0; i < 6; i++) expect((await get(`${p.url}/h`)).body).toBe('b');
    expect(a.hits).toBe(2); // down after its second failure: not tried any more
    failing = false;
    await new Promise((r) => setTimeout(r, 320));
    const bodies = new Set<string>();
    for (let i = 0; i < 4; i++) bodies.add((await get(`${p.url}/h`)).body);
    expect(bodies).toEqual(new Set(['a', 'b']));
    expect(p.errors.some((l) => String(l.msg).includes('marked down'))).toBe(true);
  });

  it('panic: when every server is down they are tried anyway', async () => {
    let failing = true;
    const mk = (name: string) =>
      httpUpstream((req, res) => {
        if (failing) req.socket.resetAndDestroy();
        else res.end(name);
      });
    const a = later(await mk('a'));
    const b = later(await mk('b'));
    const p = await proxyTo([a.url, b.url], 'health: { max_fails: 1, fail_timeout: 30s }');
    expect((await get(`${p.url}/x`)).status).toBe(502); // both fail, both marked down
    failing = false;
    const r = await get(`${p.url}/x`);
    expect(r.status).toBe(200); // not 503: tried anyway, and back up since it answered
    expect((await get(`${p.url}/x`)).status).toBe(200);
  });

  it('panic with one server: marked down, it is still tried, once per request (no 503)', async () => {
    let failing = true;
    const a = later(
      await httpUpstream((req, res) => {
        if (failing) req.socket.resetAndDestroy();
        else res.end('a');
      }),
    );
    const p = await proxyTo([a.url], 'health: { max_fails: 1, fail_timeout: 30s }');
    const hits = a.hits;
    expect((await get(`${p.url}/x`)).status).toBe(502);
    // tries: 2 (the default): a reset goes once more to the same server on a fresh connection.
    expect(a.hits - hits).toBe(2);
    expect(p.errors.some((l) => String(l.msg).includes('marked down'))).toBe(true);
    failing = false;
    expect((await get(`${p.url}/x`)).body).toBe('a');
    expect((await get(`${p.url}/x`)).body).toBe('a');
  });

  it('active checks: fall marks a server down, rise brings it back', async () => {
    let bHealthy = true;
    const a = later(await namedUpstream('a'));
    const b = later(
      await httpUpstream((req, res) => {
        if (req.url === '/health') {
          res.statusCode = bHealthy ? 200 : 503;
          res.end();
        } else res.end('b');
      }),
    );
    const p = await proxyTo(
      [a.url, b.url],
      'health: { active: { interval: 50ms, path: /health, status: [200, 204], rise: 2, fall: 2, timeout: 500ms } }',
    );
    const tally = async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await get(`${p.url}/x`)).body);
      return seen;
    };
    expect(await tally()).toEqual(new Set(['a', 'b']));
    bHealthy = false;
    await until(() => p.errors.some((l) => String(l.msg).includes(`${b.port} marked down`)), 'down');
    expect(await tally()).toEqual(new Set(['a']));
    bHealthy = true;
    await until(() => p.errors.some((l) => String(l.msg).includes(`${b.port} back up`)), 'up');
    expect(await tally()).toEqual(new Set(['a', 'b']));
  });
});

describe('status mapping', () => {
  it("the route's queue full: 503 with Retry-After", async () => {
    const held: (() => void)[] = [];
    const a = later(
      await httpUpstream((_req, res) => {
        held.push(() => res.end('done'));
      }),
    );
    const p = await proxyTo([a.url], '', ', queue: 1');
    const first = get(`${p.url}/q1`);
    await until(() => held.length === 1, 'the first request upstream');
    const r = await get(`${p.url}/q2`);
    expect(r.status).toBe(503);
    expect(r.headers['retry-after']).toBe('1');
    held[0]!();
    expect((await first).status).toBe(200);
  });

  it('a client that leaves before the response: closed_by client, no status, upstream closed', async () => {
    let closedAt = 0;
    const a = later(
      await rawUpstream((socket) => {
        socket.on('close', () => {
          closedAt = performance.now();
        });
      }),
    );
    const p = await proxyTo([a.url]);
    const http = await import('node:http');
    const req = http.request(`${p.url}/gone`, { agent: false });
    req.on('error', () => {});
    req.end();
    await until(() => a.hits === 1, 'the request upstream');
    const paceMs = await localPace();
    const t0 = performance.now();
    req.destroy();
    await until(() => closedAt !== 0, 'the upstream socket to close');
    expect(closedAt - t0).toBeLessThan(scaled(100, paceMs, QUIET_PACE_MS.local));
    const log = await p.accessFor('/gone');
    expect(log).toMatchObject({ status: 0, closed_by: 'client', err: 'SY_ERR_CLIENT_GONE', tries: 1 });
  });
});

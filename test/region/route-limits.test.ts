/**
 * The route-level wrappers that keep their state in shared memory, on one thread: `rate:` (429
 * with Retry-After and the IETF draft's RateLimit fields, keyed by client, header or cookie) and
 * `queue:` (503 beyond the in-flight cap). test/threads/ checks the same across acceptor threads.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

const FILE = join(packageRoot, 'test', 'fixtures', 'handlers', 'test.yaml');
let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function statuses(url: string, n: number, headers: Record<string, string> = {}) {
  const out: Response[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(url, { headers });
    await r.arrayBuffer();
    out.push(r);
  }
  return out;
}

describe('rate:', () => {
  it('admits burst + 1 at once, then answers 429 with Retry-After, RateLimit and RateLimit-Policy', async () => {
    s = await startServer(
      `routes:\n  - { path: /r, respond: { status: 200, body: ok }, rate: { limit: 1/m, burst: 2 } }\n`,
      { file: FILE },
    );
    const rs = await statuses(`${s.url}/r`, 5);
    expect(rs.map((r) => r.status)).toEqual([200, 200, 200, 429, 429]);
    const r = rs[3]!;
    expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(Number(r.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    expect(r.headers.get('ratelimit-policy')).toBe('"route";q=3;w=180');
    expect(r.headers.get('ratelimit')).toMatch(/^"route";r=0;t=\d+$/);
    expect(s.access.at(-1)).toMatchObject({ status: 429, err: 'SY_ERR_RATE_LIMITED' });
  });

  it('keys by header: each value has its own bucket, and no header is one more key', async () => {
    s = await startServer(
      `routes:\n  - { path: /r, respond: { status: 200, body: ok }, rate: { limit: 1/m, key: "header:x-api-key" } }\n`,
      { file: FILE },
    );
    const a = await statuses(`${s.url}/r`, 2, { 'x-api-key': 'a' });
    const b = await statuses(`${s.url}/r`, 2, { 'x-api-key': 'b' });
    const none = await statuses(`${s.url}/r`, 2);
    for (const rs of [a, b, none]) expect(rs.map((r) => r.status)).toEqual([200, 429]);
  });

  it('keys by cookie, and a very long key still has a bucket', async () => {
    s = await startServer(
      `routes:\n  - { path: /r, respond: { status: 200, body: ok }, rate: { limit: 1/m, key: "cookie:sid" } }\n`,
      { file: FILE },
    );
    const long = 'x'.repeat(500);
    expect((await statuses(`${s.url}/r`, 2, { cookie: `a=1; sid=${long}` })).map((r) => r.status)).toEqual([
      200, 429,
    ]);
    expect((await statuses(`${s.url}/r`, 1, { cookie: 'sid=other' })).map((r) => r.status)).toEqual([200]);
  });

  it('key ip is the real client: X-Forwarded-For only from a trusted proxy', async () => {
    const route = `routes:\n  - { path: /r, respond: { status: 200, body: ok }, rate: { limit: 1/m } }\n`;
    s = await startServer(route, { file: FILE });
    // Not trusted: a forged X-Forwarded-For does not buy a fresh bucket.
    const forged = [
      ...(await statuses(`${s.url}/r`, 1, { 'x-forwarded-for': '10.0.0.1' })),
      ...(await statuses(`${s.url}/r`, 1, { 'x-forwarded-for': '10.0.0.2' })),
    ];
    expect(forged.map((r) => r.status)).toEqual([200, 429]);
    await s.close();
    s = await startServer(`trusted_proxies: [loopback]\n${route}`, { file: FILE });
    // Behind a trusted proxy (loopback here): each forwarded client has its own bucket.
    for (const client of ['10.0.0.1', '10.0.0.2'])
      expect((await statuses(`${s.url}/r`, 2, { 'x-forwarded-for': client })).map((r) => r.status)).toEqual([
        200, 429,
      ]);
  });

  it('applies to every track (a handler here)', async () => {
    s = await startServer(
      `routes_dir: .\nroutes:\n  - { path: /s, handler: sleep, rate: { limit: 1/m } }\n`,
      { file: FILE },
    );
    expect((await statuses(`${s.url}/s?ms=1`, 2)).map((r) => r.status)).toEqual([200, 429]);
  });
});

describe('queue:', () => {
  it('answers 503 beyond the in-flight cap and admits again once one finishes', async () => {
    s = await startServer(`routes_dir: .\nroutes:\n  - { path: /s, handler: sleep, queue: 2 }\n`, {
      file: FILE,
    });
    const slow = [fetch(`${s.url}/s?ms=400`), fetch(`${s.url}/s?ms=400`)];
    await until(() => s!.server.pipeline.inflight.size === 2, 'the two slow requests to be in flight');
    const over = await fetch(`${s.url}/s?ms=1`);
    expect(over.status).toBe(503);
    expect(over.headers.get('retry-after')).toBe('1');
    expect((await Promise.all(slow)).map((r) => r.status)).toEqual([200, 200]);
    expect((await fetch(`${s.url}/s?ms=1`)).status).toBe(200);
  });
});

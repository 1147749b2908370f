/**
 * /metrics and the status JSON after a known set of requests: the exposition parses as strict
 * Prometheus text and its counters match what was sent; the status snapshot shows the same
 * numbers; `allow` refuses other peers with 403. Probes answer before routing.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../src/observe/views.js';
import { parseExposition } from '../helpers/prom-text.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { refusedPort } from '../helpers/upstreams.js';

let s: TestServer;
let origin: HttpServer;

beforeAll(async () => {
  origin = createServer((_req, res) => res.end('up'));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const live = (origin.address() as { port: number }).port;
  const dead = await refusedPort();
  s = await startServer(`
probes: { readiness: /readyz, liveness: /livez }
upstreams:
  up: { servers: [{ url: "http://127.0.0.1:${live}" }] }
  dead: { servers: [{ url: "http://127.0.0.1:${dead}" }], health: { max_fails: 1, fail_timeout: 60s } }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: "/api/*", proxy: up }
  - { path: "/dead/*", proxy: dead }
  - { path: /metrics, metrics: {} }
  - { path: /status, status: {} }
  - { path: /private-metrics, metrics: { allow: ["10.0.0.0/8"] } }
  - { path: "/*", respond: { status: 404, body: "caught" } }
`);
  const get = async (p: string) => (await request(`${s.url}${p}`)).body.text();
  for (let i = 0; i < 7; i++) await get('/a');
  for (let i = 0; i < 4; i++) await get(`/api/x${i}`);
  await get('/dead/x');
  await get('/nope'); // the catch-all's 404
  await get('/a%00b'); // refused before routing (400)
});

afterAll(async () => {
  await s?.close();
  await new Promise((r) => origin?.close(r));
});

describe('probes', () => {
  it('readiness and liveness answer before routing (a catch-all does not shadow them)', async () => {
    const r = await request(`${s.url}/readyz`);
    expect(r.statusCode).toBe(200);
    expect(await r.body.text()).toBe('ok\n');
    const l = await request(`${s.url}/livez`, { method: 'HEAD' });
    expect(l.statusCode).toBe(200);
    await l.body.text();
    const p = await request(`${s.url}/readyz`, { method: 'POST' });
    expect(p.statusCode).toBe(405);
    await p.body.text();
  });

  it('readiness is 503 while draining; liveness stays 200', async () => {
    s.server.readiness.state = 'draining';
    try {
      const r = await request(`${s.url}/readyz`);
      expect(r.statusCode).toBe(503);
      expect(await r.body.text()).toBe('draining\n');
      const l = await request(`${s.url}/livez`);
      expect(l.statusCode).toBe(200);
      await l.body.text();
    } finally {
      s.server.readiness.state = 'ready';
    }
  });
});

describe('metrics', () => {
  it('/metrics parses as strict Prometheus text and its counters match the requests sent', async () => {
    const r = await request(`${s.url}/metrics`);
    expect(r.statusCode).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const m = parseExposition(await r.body.text());
    const req = (route: string, track: string, code: string) =>
      m.get('switchyard_requests_total', { route, track, code });
    expect(req('/a', 'respond', '2xx')).toBe(7);
    expect(req('/api/*', 'proxy', '2xx')).toBe(4);
    expect(req('/dead/*', 'proxy', '5xx')).toBe(1);
    expect(req('/*', 'respond', '4xx')).toBe(1);
    expect(req('(unmatched)', 'none', '4xx')).toBe(1);
    expect(m.get('switchyard_request_duration_seconds_count', { route: '/a', track: 'respond' })).toBe(7);
    const live = [...m.samples].find(
      (x) => x.name === 'switchyard_upstream_requests_total' && x.labels.upstream === 'up',
    );
    expect(live?.value).toBe(4);
    expect(m.get('switchyard_upstream_errors_total', { upstream: 'up', server: live!.labels.server! })).toBe(
      0,
    );
    const dead = [...m.samples].find(
      (x) => x.name === 'switchyard_upstream_errors_total' && x.labels.upstream === 'dead',
    );
    expect(dead?.value).toBe(1);
    expect(m.get('switchyard_upstream_up', { upstream: 'dead', server: dead!.labels.server! })).toBe(0);
    expect(m.get('switchyard_upstream_up', { upstream: 'up', server: live!.labels.server! })).toBe(1);
    // the scrape itself is in flight
    expect(m.get('switchyard_requests_in_flight')).toBe(1);
    expect(m.get('switchyard_open_connections')).toBeGreaterThanOrEqual(1);
    for (const name of [
      'process_cpu_user_seconds_total',
      'nodejs_eventloop_lag_seconds',
      'switchyard_pool_threads',
    ]) {
      expect(m.types.has(name), name).toBe(true);
    }
  });

  it('the status JSON shows the same numbers', async () => {
    const r = await request(`${s.url}/status?format=json`);
    const j = (await r.body.json()) as StatusSnapshot;
    const a = j.routes.find((x) => x.route === '/a')!;
    expect(a.requests).toBe(7);
    expect(a.status['2xx']).toBe(7);
    expect(j.upstreams.find((u) => u.upstream === 'dead')).toMatchObject({
      up: false,
      errors: 1,
      requests: 1,
    });
    expect(j.upstreams.find((u) => u.upstream === 'up')).toMatchObject({ up: true, errors: 0, requests: 4 });
    expect(j.state).toBe('ready');
    const page = await request(`${s.url}/status`);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(await page.body.text()).not.toMatch(/(src|href)="(https?:)?\/\//); // no external assets
  });

  it('a peer outside allow gets 403', async () => {
    const r = await request(`${s.url}/private-metrics`);
    expect(r.statusCode).toBe(403);
    await r.body.text();
  });

  it('behind a trusted proxy on this host, allow is checked against the client it names, not the proxy', async () => {
    const t = await startServer(`
trusted_proxies: [loopback]
routes:
  - { path: /metrics, metrics: {} }
  - { path: /status, status: {} }
  - { path: /lan-metrics, metrics: { allow: ["10.0.0.0/8"] } }
`);
    try {
      const status = async (p: string, xff?: string) => {
        const r = await request(`${t.url}${p}`, {
          headers: xff === undefined ? {} : { 'x-forwarded-for': xff },
        });
        await r.body.text();
        return r.statusCode;
      };
      // the proxy's own request (loopback) is allowed; one it forwards for the internet is not
      expect([await status('/metrics'), await status('/metrics', '203.0.113.9')]).toEqual([200, 403]);
      expect(await status('/status?format=json', '203.0.113.9')).toBe(403);
      expect(await status('/lan-metrics', '10.1.2.3')).toBe(200);
    } finally {
      await t.close();
    }
  });
});

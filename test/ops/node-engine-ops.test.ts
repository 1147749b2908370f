/**
 * The operations surface on the node engine (`engine: node`, the built CLI), as on uWS: access-log
 * fields (host, user_agent, referer, peer, and client from X-Forwarded-For of a trusted proxy),
 * probes before routing, /metrics counters that match the requests sent, and a stop that fails
 * readiness at once while requests are served for `shutdown.delay`, then drains and exits 0.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { parseExposition } from '../helpers/prom-text.js';
import { until } from '../helpers/wait.js';

let cli: StartedCli;

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`${cli.url}${path}`, { headers, reset: true });
  return { status: r.statusCode, text: await r.body.text() };
}

describe('operations on engine: node', () => {
  beforeAll(async () => {
    cli = await startCli(`listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout, error: stderr }
trusted_proxies: [loopback]
probes: { readiness: /readyz, liveness: /livez }
shutdown: { delay: 2s, grace: 2s }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: /metrics, metrics: {} }
  - { path: "/*", respond: { status: 404, body: "caught" } }
`);
  });
  afterAll(() => cli?.stop());

  it('access lines carry host, user_agent, referer, peer and the client from X-Forwarded-For', async () => {
    await get('/a?who', {
      'user-agent': 'probe/1',
      referer: 'http://ref.example/',
      'x-forwarded-for': '203.0.113.9',
    });
    const line = await until(() => cli.accessLog().find((l) => l.query === 'who'), 'the access line');
    expect(line).toMatchObject({
      host: `127.0.0.1:${cli.port}`,
      user_agent: 'probe/1',
      referer: 'http://ref.example/',
      peer: '127.0.0.1',
      client: '203.0.113.9',
    });
  });

  it('probes answer before routing; /metrics counts the requests sent', async () => {
    expect(await get('/readyz')).toEqual({ status: 200, text: 'ok\n' });
    expect((await get('/livez')).status).toBe(200);
    for (let i = 0; i < 5; i++) await get('/a');
    const m = parseExposition((await get('/metrics')).text);
    expect(m.get('switchyard_requests_total', { route: '/a', track: 'respond', code: '2xx' })).toBe(6);
    expect(m.get('switchyard_requests_total', { route: '(probes)', track: 'probe', code: '2xx' })).toBe(2);
  });

  it('SIGTERM: readiness 503 at once, requests served for shutdown.delay, then a drain and exit 0', async () => {
    cli.kill('SIGTERM');
    await cli.waitFor(/readiness failing; serving on until the drain/);
    for (let i = 0; i < 5; i++) {
      expect(await get('/readyz')).toEqual({ status: 503, text: 'draining\n' });
      expect((await get('/a')).status).toBe(200);
    }
    expect(await cli.exited).toBe(0);
  });
});

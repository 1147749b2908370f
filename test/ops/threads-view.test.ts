/**
 * With acceptor threads (`threads: 2`, the built CLI), /metrics, the status JSON and readiness are
 * one view of the process: whichever thread a scrape lands on, the counters are the sum of every
 * thread's (the requests were spread over both, as the access log's `thread` shows), and during a
 * stop's `shutdown.delay` every thread's readiness says 503 while requests are still served.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../../src/observe/views.js';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { uwsAvailable } from '../helpers/engines.js';
import { parseExposition } from '../helpers/prom-text.js';
import { until } from '../helpers/wait.js';

let cli: StartedCli;
const N = 40;

/** A request on a fresh connection (the kernel picks the thread). */
async function fresh(path: string): Promise<{ status: number; text: string }> {
  const r = await request(`${cli.url}${path}`, { reset: true });
  return { status: r.statusCode, text: await r.body.text() };
}

// uWS: the node engine shares a port between threads only from Node 22.12 (SO_REUSEPORT).
describe.skipIf(!uwsAvailable())('threads: 2 — one view of the process', () => {
  beforeAll(async () => {
    cli = await startCli(`threads: 2
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
log: { level: info, access: stdout, error: stderr }
probes: { readiness: /readyz }
shutdown: { delay: 3s, grace: 2s }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: /metrics, metrics: {} }
  - { path: /status, status: {} }
`);
    for (let i = 0; i < N; i++) expect((await fresh('/a')).status).toBe(200);
    await until(() => cli.accessLog().filter((l) => l.path === '/a').length === N, 'every access line');
  });
  afterAll(() => cli?.stop());

  it('the requests were spread over both threads', () => {
    const threads = new Set(
      cli
        .accessLog()
        .filter((l) => l.path === '/a')
        .map((l) => l.thread),
    );
    expect(threads.size).toBe(2);
  });

  it('/metrics counts every thread’s requests, whichever thread answers the scrape', async () => {
    for (let i = 0; i < 6; i++) {
      const m = parseExposition((await fresh('/metrics')).text);
      expect(m.get('switchyard_requests_total', { route: '/a', track: 'respond', code: '2xx' })).toBe(N);
      expect(m.get('switchyard_request_duration_seconds_count', { route: '/a', track: 'respond' })).toBe(N);
      expect(m.get('switchyard_requests_in_flight')).toBe(1); // the scrape itself
    }
  });

  it('the status JSON too', async () => {
    for (let i = 0; i < 6; i++) {
      const j = JSON.parse((await fresh('/status?format=json')).text) as StatusSnapshot;
      const a = j.routes.find((r) => r.route === '/a')!;
      expect(a.requests).toBe(N);
      expect(a.status['2xx']).toBe(N);
      expect(j.state).toBe('ready');
      expect(j.threads).toBe(2);
    }
  });

  it('during shutdown.delay every thread’s readiness is 503 while requests are served', async () => {
    for (let i = 0; i < 6; i++) expect((await fresh('/readyz')).status).toBe(200);
    cli.kill('SIGTERM');
    await cli.waitFor(/readiness failing; serving on until the drain/);
    for (let i = 0; i < 10; i++) {
      expect((await fresh('/readyz')).status).toBe(503);
      expect((await fresh('/a')).status).toBe(200);
    }
  });
});

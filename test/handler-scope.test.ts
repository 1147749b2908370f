/**
 * ctx.scope: work forked into the request's scope is awaited before the request finishes, and is
 * cancelled with the request (here: the route timeout); finalizers run after it.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { parseResponse, raw, rawGet } from './helpers/raw-client.js';
import { startServer, type TestServer } from './helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from './helpers/timing.js';
import { until } from './helpers/wait.js';

let s: TestServer;
const g = globalThis as { __forkOutcomes?: string[] };

beforeAll(async () => {
  s = await startServer(`
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
routes:
  - { path: /fork, handler: fork }
  - { path: /fork-timeout, handler: fork, timeout: 150ms }
  - { path: /hello, respond: { body: "hello" } }
`);
});
afterAll(() => s.close());
beforeEach(() => {
  g.__forkOutcomes = [];
});

describe('ctx.scope', () => {
  it('the request finishes only after its forks have settled, then finalizers run', async () => {
    const r = await raw(s.port, 'GET /fork?ms=300 HTTP/1.1\r\nHost: a\r\n\r\n', 30);
    expect(parseResponse(r.text)).toMatchObject({ status: 200, body: 'forked' });
    expect(r.firstByteMs).toBeGreaterThanOrEqual(290);
    expect(g.__forkOutcomes).toEqual(['done', 'finalizer']);
  });

  it('the route timeout cancels the forks (504), and finalizers still run', async () => {
    const p = await pace(() => rawGet(s.port, '/hello'));
    const r = await raw(s.port, 'GET /fork-timeout?ms=5000 HTTP/1.1\r\nHost: a\r\n\r\n', 30);
    expect(parseResponse(r.text).status).toBe(504);
    expect(r.firstByteMs).toBeLessThan(scaled(400, p, QUIET_PACE_MS.get));
    await until(() => g.__forkOutcomes!.length === 2, 'fork outcome');
    expect(g.__forkOutcomes![0]).toMatch(/^cancelled:/);
    expect(g.__forkOutcomes![1]).toBe('finalizer');
  });
});

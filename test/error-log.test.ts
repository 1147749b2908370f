/**
 * Regression: an upstream outage must not write an error line with a stack per request (it
 * flooded the error log with 33k lines in 10 s under load). The access log records each failure.
 */
import { createServer } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { parseResponse, raw } from './helpers/raw-client.js';
import { startServer, type TestServer } from './helpers/server.js';

let s: TestServer;

beforeAll(async () => {
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  const dead = (probe.address() as { port: number }).port;
  await new Promise((r) => probe.close(r)); // nothing listens there now: connections are refused
  s = await startServer(`
upstreams:
  down: { servers: [ { url: "http://127.0.0.1:${dead}" } ], retries: { tries: 1 } }
routes:
  - { path: "/*", proxy: down }
`);
});
afterAll(() => s.close());

it('an upstream outage is one access-log line per request, not an error line with a stack each', async () => {
  for (let i = 0; i < 20; i++) {
    const res = parseResponse((await raw(s.port, 'GET /x HTTP/1.1\r\nHost: a\r\n\r\n', 20)).text);
    expect(res.status).toBe(502);
  }
  expect(s.access.filter((l) => l.err === 'SY_ERR_UPSTREAM_CONNECT')).toHaveLength(20);
  expect(s.errors.filter((l) => l.msg === 'request failed')).toHaveLength(0);
  expect(s.errors.length).toBeLessThan(5);
});

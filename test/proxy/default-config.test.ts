/**
 * The embedded default config serves its proxy route right after start: `/api/*` goes to the
 * server's own second listener with `/api` stripped (`curl localhost:8080/api/hello`). Run with the
 * built CLI (handlers load from dist/), on free ports instead of 8080 / 8081 / 9000.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { get } from '../helpers/http.js';
import { refusedPort } from '../helpers/upstreams.js';
import { until } from '../helpers/wait.js';

let proxy: StartedCli;

beforeAll(async () => {
  let text = readFileSync(join(process.cwd(), 'conf/switchyard.yaml'), 'utf8');
  for (const port of ['8080', '8081', '9000']) text = text.replaceAll(port, String(await refusedPort()));
  // keep the access log where the test can read it
  text = text.replace(/^log: .*$/m, 'log: { level: info, access: stderr }');
  proxy = await startCli(text);
});

afterAll(async () => {
  await proxy?.stop();
});

it('curl localhost:8080/api/hello answers "Hello world!" through the proxy', async () => {
  const r = await get(`${proxy.url}/api/hello`);
  expect(r.status).toBe(200);
  expect(r.body).toBe('Hello world!');
  let line: Record<string, unknown> | undefined;
  await until(() => (line = proxy.accessLog().find((l) => l.path === '/api/hello')) !== undefined);
  expect(line).toMatchObject({ track: 'proxy', status: 200, upstream_status: 200, tries: 1 });
});

it('the upstream sees the stripped path and the forwarding headers', async () => {
  const r = await get(`${proxy.url}/api/echo?x=1`, {
    method: 'POST',
    body: '{"a":1}',
    headers: { 'content-length': '7' },
  });
  expect(r.status).toBe(200);
  const echoed = JSON.parse(r.body) as {
    path: string;
    query: unknown;
    headers: Record<string, string>;
    body: string;
  };
  expect(echoed.path).toBe('/echo');
  expect(echoed.query).toEqual({ x: '1' });
  expect(echoed.body).toBe('{"a":1}');
  expect(echoed.headers['x-forwarded-for']).toBe('127.0.0.1');
  expect(echoed.headers['x-forwarded-proto']).toBe('http');
  expect(echoed.headers['x-request-id']).toMatch(/\S/);
});

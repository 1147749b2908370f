/**
 * The in-memory driver (src/inject.ts): requests through the request checks, the pipeline, the
 * route table and each in-process track, without a socket.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot, parseConfig } from '../src/config/load.js';
import { inject } from '../src/inject.js';
import { silentLogs } from '../src/observe/log.js';
import { Server } from '../src/server.js';

const YAML = `
routes_dir: ${packageRoot}/dist/routes
pool: { threads: 1 }
routes:
  - { path: /hello, handler: hello }
  - { path: /echo, handler: echo, body: 16 }
  - { path: /slow, handler: slow, timeout: 100ms }
  - { path: /only-get, methods: [GET], respond: { body: "got\\n" } }
  - { path: /old, redirect: { to: "http://$host/new$path", status: 301 } }
  - { path: /healthz, respond: { status: 200, body: "ok\\n", headers: { x-check: yes } } }
`;

let server: Server;
beforeAll(async () => {
  server = await Server.build(parseConfig(YAML, '/tmp/switchyard-inject.yaml'), { logs: silentLogs() });
});
afterAll(() => server.drain(0));

describe('inject: a request through the pipeline without a socket', () => {
  it('answers a fixed reply with its headers', async () => {
    const res = await inject(server.pipeline, { url: '/healthz' });
    expect(res.status).toBe(200);
    expect(res.text()).toBe('ok\n');
    expect(res.headers['x-check']).toBe('yes');
    expect(res.exchange.track).toBe('respond');
  });

  it('runs a handler module, with query, headers and body', async () => {
    const res = await inject(server.pipeline, {
      method: 'POST',
      url: '/echo?x=1',
      headers: { 'x-a': 'b' },
      body: '{"a":1}',
    });
    expect(res.status).toBe(200);
    expect(res.json()).toMatchObject({ method: 'POST', path: '/echo', query: { x: '1' }, body: '{"a":1}' });
    expect(res.exchange.bytesIn).toBe(7);
  });

  it('applies the route body cap (413), routing (404, 405 with Allow) and redirects', async () => {
    expect(
      (await inject(server.pipeline, { method: 'POST', url: '/echo', body: 'x'.repeat(17) })).status,
    ).toBe(413);
    expect((await inject(server.pipeline, { url: '/nope' })).status).toBe(404);
    const m = await inject(server.pipeline, { method: 'POST', url: '/only-get', body: '' });
    expect(m.status).toBe(405);
    expect(m.headers.allow).toBe('GET, HEAD');
    const r = await inject(server.pipeline, { url: '/old', headers: { host: 'example.com' } });
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('http://example.com/new/old');
  });

  it('runs the request checks an engine runs (a bad Host is 400)', async () => {
    const res = await inject(server.pipeline, { url: '/hello', headers: { host: 'a b' } });
    expect(res.status).toBe(400);
    expect(res.exchange.errorCode).toBe('SY_ERR_BAD_HOST');
  });

  it('cancels a handler at the route deadline (504) and when the client goes away', async () => {
    const late = await inject(server.pipeline, { url: '/slow?ms=5000' });
    expect(late.status).toBe(504);
    const pending = inject(server.pipeline, { url: '/slow?ms=5000' });
    pending.cancel();
    const gone = await pending;
    expect(gone.status).toBe(-1);
    expect(gone.exchange.cancelReason?.code).toBe('SY_ERR_CLIENT_GONE');
  });
});

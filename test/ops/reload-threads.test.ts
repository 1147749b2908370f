/**
 * SIGHUP reload with acceptor threads (`threads: 2`, the built CLI): every thread routes with the
 * new config once "reloaded" is logged — twenty fresh connections (the kernel spreads them over
 * both threads) all get the new reply, and a kept-alive connection opened before the reload does too.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { uwsAvailable } from '../helpers/engines.js';

let cli: StartedCli;

beforeAll(async () => {
  if (!uwsAvailable()) return;
  cli = await startCli(`threads: 2
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
log: { level: info, access: off, error: stderr }
routes:
  - { path: /r, respond: { body: "gen 0" } }
`);
});
afterAll(() => cli?.stop());

// uWS: the node engine shares a port between threads only from Node 22.12 (SO_REUSEPORT).
describe.skipIf(!uwsAvailable())('reload with threads: 2', () => {
  it('every acceptor thread serves the new config after HUP, on new and kept-alive connections', async () => {
    const kept = new Client(cli.url, { pipelining: 1 });
    const k0 = await kept.request({ method: 'GET', path: '/r' });
    expect(await k0.body.text()).toBe('gen 0');

    const file = join(cli.dir, 'switchyard.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace('"gen 0"', '"gen 1"'));
    cli.kill('SIGHUP');
    await cli.waitFor(/"msg":"reloaded \(generation 1\)"/, 20_000);

    const bodies = new Set<string>();
    for (let i = 0; i < 20; i++) {
      const r = await request(`${cli.url}/r`, { reset: true });
      bodies.add(await r.body.text());
    }
    expect([...bodies]).toEqual(['gen 1']);
    const k1 = await kept.request({ method: 'GET', path: '/r' });
    expect(await k1.body.text()).toBe('gen 1');
    await kept.close();
  });
});

describe.skipIf(!uwsAvailable())('reload changing threads: or shared:', () => {
  it('keeps the running threads and shared region, says so, and every thread takes the new routes', async () => {
    const c = await startCli(`threads: 3
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
log: { level: info, access: off, error: stderr }
shared: { counters: [a] }
routes:
  - { path: /r, respond: { body: "gen 0" }, queue: 5 }
`);
    try {
      const file = join(c.dir, 'switchyard.yaml');
      writeFileSync(
        file,
        readFileSync(file, 'utf8')
          .replace('threads: 3', 'threads: 2')
          .replace('[a]', '[a, b]')
          .replace('"gen 0"', '"gen 1"'),
      );
      c.kill('SIGHUP');
      await c.waitFor(/"msg":"reloaded \(generation 1\)"/, 20_000);
      expect(c.stderr()).toMatch(/reload: threads changed; still 3/);
      expect(c.stderr()).toMatch(/reload: shared changed/);
      expect(c.stderr()).not.toMatch(/kept its configuration/);
      const bodies = new Set<string>();
      for (let i = 0; i < 30; i++) {
        const r = await request(`${c.url}/r`, { reset: true });
        bodies.add(await r.body.text());
      }
      expect([...bodies]).toEqual(['gen 1']);
    } finally {
      await c.stop();
    }
  });
});

describe.skipIf(!uwsAvailable())('reload changing log.level with threads', () => {
  it('every acceptor thread logs at the new level', async () => {
    const handlers = join(packageRoot, 'test', 'fixtures', 'handlers');
    const c = await startCli(`threads: 2
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
routes_dir: ${handlers}
log: { level: info, access: off, error: stderr }
routes:
  - { path: /s, handler: sleep }
  - { path: /t, handler: throw }
`);
    try {
      const file = join(c.dir, 'switchyard.yaml');
      writeFileSync(
        file,
        `${readFileSync(file, 'utf8').replace('level: info', 'level: error')}  - { path: /g1, respond: { body: "1" } }\n`,
      );
      c.kill('SIGHUP');
      // "reloaded" is below the new level: wait until fresh connections (either thread) see the new route
      const from = c.stderr().length;
      for (let hits = 0; hits < 30; ) {
        const r = await request(`${c.url}/g1`, { reset: true });
        await r.body.text();
        hits = r.statusCode === 200 ? hits + 1 : 0;
      }
      for (let i = 0; i < 20; i++) {
        // an info line (below the new level), then an error line, on each connection
        const r = await request(`${c.url}/s?tell&ms=1`, { reset: true });
        await r.body.text();
        const t = await request(`${c.url}/t`, { reset: true });
        await t.body.text();
      }
      await c.waitFor(/"thread":0,[^\n]*"msg":"request failed"/);
      await c.waitFor(/"thread":1,[^\n]*"msg":"request failed"/);
      await c.stop(); // every thread's last lines are written before the process exits
      expect(c.stderr().slice(from)).not.toMatch(/"msg":"sleeping"/);
    } finally {
      await c.stop();
    }
  });
});

describe.skipIf(!uwsAvailable())('an acceptor that crashes after its reload', () => {
  it('is not reported as lost to the reload, and the reload waits for the others', async () => {
    const routes = mkdtempSync(join(tmpdir(), 'switchyard-routes-'));
    const first = join(routes, 'first');
    const go = join(routes, 'go');
    const served = join(routes, 'served');
    // Imported by each acceptor when the reload compiles it: the first one swaps its table at
    // once; every other waits for the test's "go" file before it can answer the reload. The first
    // request served crashes its thread (after the answer).
    writeFileSync(
      join(routes, 'late.js'),
      `import { existsSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
if (!isMainThread) {
  if (!existsSync(${JSON.stringify(first)})) writeFileSync(${JSON.stringify(first)}, '');
  else {
    const w = new Int32Array(new SharedArrayBuffer(4));
    while (!existsSync(${JSON.stringify(go)})) Atomics.wait(w, 0, 0, 10);
  }
}
export default function late() {
  if (!existsSync(${JSON.stringify(served)})) {
    writeFileSync(${JSON.stringify(served)}, '');
    setImmediate(() => { throw new Error('injected crash after the reload'); });
  }
  return { status: 200, body: 'late' };
}
`,
    );
    const c = await startCli(`threads: 2
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
routes_dir: ${routes}
log: { level: info, access: off, error: stderr }
routes:
  - { path: /r, respond: { body: "gen 0" } }
`);
    const pending: Promise<unknown>[] = [];
    try {
      const file = join(c.dir, 'switchyard.yaml');
      writeFileSync(file, `${readFileSync(file, 'utf8')}  - { path: /late, handler: late }\n`);
      c.kill('SIGHUP');
      // Requests on fresh connections until the thread that swapped serves /late (the waiting
      // thread answers none meanwhile: its requests stay pending until "go").
      let crashed = false;
      for (let i = 0; i < 200 && !crashed; i++) {
        pending.push(
          request(`${c.url}/late`, { reset: true }).then(
            (r) => r.body.text(),
            () => undefined,
          ),
        );
        crashed = await c.waitFor(/acceptor thread \d+ exited: restarting/, 100).then(
          () => true,
          () => false,
        );
      }
      expect(crashed).toBe(true);
      writeFileSync(go, '');
      await c.waitFor(/"msg":"reloaded \(generation 1\)"/, 20_000);
      expect(c.stderr()).not.toMatch(/exited during the reload/);
    } finally {
      writeFileSync(go, '');
      await c.stop();
      await Promise.all(pending);
    }
  });
});

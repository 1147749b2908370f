/**
 * `threads: N` end to end, through the built CLI, with 2 and 4 acceptor threads on this 2-core
 * machine: connections spread over every thread, shared state is exact across them, limits hold
 * process-wide, SIGTERM drains every thread without losing a request, and a crashed acceptor is
 * replaced while the others keep serving. Access lines carry `thread` (the acceptor's index).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, freePort, runCliToEnd, startCli, tempFile } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { until } from '../helpers/wait.js';

const handlers = join(packageRoot, 'test', 'fixtures', 'handlers');
let cli: (Cli & { ports: number[] }) | undefined;
const origins: HttpServer[] = [];

afterEach(async () => {
  if (cli !== undefined && cli.child.exitCode === null) {
    cli.kill('SIGKILL');
    await cli.exited;
  }
  cli = undefined;
  for (const o of origins.splice(0)) await new Promise((r) => o.close(r));
});

async function start(threads: number, extra: string): Promise<Cli & { ports: number[] }> {
  cli = await startCli(
    `threads: ${threads}\nlisten:\n  - { host: 127.0.0.1, port: 0 }\nroutes_dir: ${handlers}\nlog: { level: info, access: stdout }\n${extra}`,
  );
  return cli;
}

/** Access-log lines so far (stdout), parsed; every line must be whole JSON. */
function access(c: Cli): Record<string, unknown>[] {
  return c
    .stdout()
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

/** The access lines once there are at least `count` (a thread posts its lines after the response). */
function accessLines(c: Cli, count: number): Promise<Record<string, unknown>[]> {
  return until(
    () => {
      const l = access(c);
      return l.length >= count ? l : undefined;
    },
    10_000,
    `${count} access lines`,
  );
}

/** One request on a fresh connection (so the kernel picks a thread for each). */
async function fresh(port: number, path: string, headers: Record<string, string> = {}) {
  const agent = new Agent({ pipelining: 0 });
  try {
    const r = await request(`http://127.0.0.1:${port}${path}`, { dispatcher: agent, headers });
    return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
  } finally {
    await agent.close();
  }
}

/** How many requests the gate fixture holds (its "at the gate" lines so far). */
function atGate(c: Cli): number {
  return c.stderr().match(/at the gate/g)?.length ?? 0;
}

/**
 * `count` requests to the gate fixture at /g, each on a fresh connection: once every one is held at
 * the gate or answered without it, `meanwhile` runs; then the bodies go and the answers come back.
 */
async function gated(c: Cli & { ports: number[] }, count: number, meanwhile: () => unknown) {
  const clients = await Promise.all(Array.from({ length: count }, () => RawClient.connect(c.ports[0]!)));
  try {
    for (const cl of clients) cl.write('POST /g HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n');
    const answered = () => clients.filter((cl) => cl.received !== '').length;
    await until(() => atGate(c) + answered() >= count, `${count} requests at the gate or answered`);
    await meanwhile();
    for (const cl of clients) cl.write('ok');
    const rs = await Promise.all(clients.map((cl) => cl.next(10_000)));
    return rs.map((r) => ('status' in r ? r : { status: -1, ...r }));
  } finally {
    for (const cl of clients) cl.destroy();
  }
}

describe.each([2, 4])('threads: %i', (n) => {
  it('spreads connections over every thread, and a counter added 100,000 times per request from all of them ends exact', async () => {
    const c = await start(n, `shared: { counters: [n] }\nroutes:\n  - { path: /count, handler: count }\n`);
    const port = c.ports[0]!;
    const threads = new Set<unknown>();
    let requests = 0;
    // Rounds of concurrent requests on fresh connections until every thread has counted (the
    // kernel spreads by a hash of the address pair: a thread may see none of the first rounds).
    for (let round = 0; round < 100 && threads.size < n; round++) {
      const rs = await Promise.all(Array.from({ length: 2 * n }, () => fresh(port, '/count')));
      for (const r of rs) {
        expect(r.status).toBe(200);
        threads.add(JSON.parse(r.body).thread);
        requests++;
      }
    }
    expect(threads.size).toBe(n);
    const served = new Set((await accessLines(c, requests)).map((l) => l.thread));
    expect([...served].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
    const read = await fresh(port, '/count?read=1');
    expect(JSON.parse(read.body).value).toBe(requests * 100_000);
  });

  it('the port is still ours alone: a second Switchyard, threaded or not, fails with the start-up error', async () => {
    const c = await start(n, `routes:\n  - { path: /hello, respond: { body: hi } }\n`);
    const port = c.ports[0]!;
    for (const threads of [1, n]) {
      const file = tempFile(
        'second.yaml',
        `threads: ${threads}\nlisten:\n  - { host: 127.0.0.1, port: ${port} }\n`,
      );
      const second = await runCliToEnd(['start', '-c', file]);
      expect(second.code).not.toBe(0);
      expect(second.stderr).toContain(`cannot listen on 127.0.0.1:${port} (address in use`);
    }
    expect((await fresh(port, '/hello')).body).toBe('hi');
  });

  it('rate: R/s over 5 s admits R·5 + burst (± 5 %) across all threads', async () => {
    const R = 100;
    const burst = 20;
    const c = await start(
      n,
      `routes:\n  - { path: /r, respond: { body: ok }, rate: { limit: ${R}/s, burst: ${burst} } }\n`,
    );
    const port = c.ports[0]!;
    // 16 connections whatever the thread count: the kernel spreads them by address hash, and with
    // 2 threads 8 connections all land on one about 0.8 % of the time (seen once in CI)
    const agents = Array.from({ length: 16 }, () => new Agent({ connections: 1 }));
    let ok = 0;
    let limited = 0;
    const t0 = performance.now();
    const end = t0 + 5000;
    await Promise.all(
      agents.map(async (agent) => {
        while (performance.now() < end) {
          const r = await request(`http://127.0.0.1:${port}/r`, { dispatcher: agent });
          await r.body.text();
          if (r.statusCode === 200) ok++;
          else if (r.statusCode === 429) limited++;
          else throw new Error(`status ${r.statusCode}`);
        }
      }),
    );
    const elapsed = (performance.now() - t0) / 1000;
    await Promise.all(agents.map((a) => a.close()));
    const expected = R * elapsed + burst + 1;
    expect(limited).toBeGreaterThan(0);
    expect(ok).toBeGreaterThan(expected * 0.95);
    expect(ok).toBeLessThan(expected * 1.05);
    // Several threads answered them, so the total held across threads (all 16 connections on one
    // thread: 2 × 2⁻¹⁶ with 2 threads).
    expect(new Set((await accessLines(c, ok + limited)).map((l) => l.thread)).size).toBeGreaterThanOrEqual(2);
  });

  it('a server marked down in one thread is skipped by the others', async () => {
    const live = createServer((_q, s) => s.end('live'));
    origins.push(live);
    await new Promise<void>((r) => live.listen(0, '127.0.0.1', r));
    const livePort = (live.address() as { port: number }).port;
    const deadPort = await freePort();
    const c = await start(
      n,
      `upstreams:\n  app:\n    servers: [{ url: "http://127.0.0.1:${deadPort}" }, { url: "http://127.0.0.1:${livePort}" }]\n    health: { max_fails: 1, fail_timeout: 60s }\nroutes:\n  - { path: "/*", proxy: app }\n`,
    );
    const port = c.ports[0]!;
    // Until one request has met the dead server (round-robin: within two on one thread).
    let sent = 0;
    for (; sent < 20 && !/marked down/.test(c.stderr()); sent++)
      expect((await fresh(port, '/')).body).toBe('live');
    await c.waitFor(/marked down/);
    const before = (await accessLines(c, sent)).length;
    const rs = await Promise.all(Array.from({ length: 8 * n }, () => fresh(port, '/')));
    for (const r of rs) expect(r.body).toBe('live');
    const after = (await accessLines(c, before + rs.length)).slice(before);
    expect(new Set(after.map((l) => l.thread)).size).toBeGreaterThan(1);
    for (const l of after) expect(l).toMatchObject({ upstream: `127.0.0.1:${livePort}`, tries: 1 });
    // Marked down once, by one thread.
    expect(c.stderr().match(/marked down/g)).toHaveLength(1);
  });

  it('route queue caps hold process-wide, not per thread', async () => {
    const c = await start(n, `routes:\n  - { path: /g, handler: gate, queue: 2 }\n`);
    // every admitted request is held at the gate until all have been admitted or refused
    const rs = await gated(c, Math.max(16, 6 * n), () => expect(atGate(c)).toBe(2));
    const ok = rs.filter((r) => r.status === 200).length;
    const full = rs.filter((r) => r.status === 503).length;
    expect([ok, full]).toEqual([2, rs.length - 2]);
    expect(new Set((await accessLines(c, rs.length)).map((l) => l.thread)).size).toBeGreaterThan(1);
  });

  it('upstream connections stay a per-server total across threads', async () => {
    let open = 0;
    let most = 0;
    const slow = createServer((_q, res) => {
      setTimeout(() => res.end('ok'), 200);
    });
    slow.on('connection', (sock) => {
      most = Math.max(most, ++open);
      sock.on('close', () => open--);
    });
    origins.push(slow);
    await new Promise<void>((r) => slow.listen(0, '127.0.0.1', r));
    const up = (slow.address() as { port: number }).port;
    const c = await start(
      n,
      `upstreams:\n  app:\n    servers: [{ url: "http://127.0.0.1:${up}" }]\n    connections: 4\nroutes:\n  - { path: "/*", proxy: app }\n`,
    );
    const rs = await Promise.all(Array.from({ length: 8 * n }, () => fresh(c.ports[0]!, '/')));
    for (const r of rs) expect(r.body).toBe('ok');
    expect(new Set((await accessLines(c, rs.length)).map((l) => l.thread)).size).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(4);
  });

  it('SIGTERM drains every thread: requests in flight all complete, the process exits 0', async () => {
    const c = await start(n, `shutdown: { grace: 10s }\nroutes:\n  - { path: /g, handler: gate }\n`);
    // in flight at the signal: every handler has its request and waits for the body
    // at least 16 connections: with fewer (8 with 2 threads) the kernel's address hash puts them
    // all on one thread 0.8 % of the time, and the spread is asserted below
    const rs = await gated(c, Math.max(16, 4 * n), async () => {
      c.kill('SIGTERM');
      await c.waitFor(/draining/);
    });
    expect(rs.map((r) => r.status)).toEqual(rs.map(() => 200));
    expect(await c.exited).toBe(0);
    const lines = access(c);
    expect(lines).toHaveLength(rs.length);
    expect(new Set(lines.map((l) => l.thread)).size).toBeGreaterThan(1);
  });

  it('an acceptor that crashes is logged and replaced; the others keep serving', async () => {
    const c = await start(
      n,
      `routes:\n  - { path: /crash, handler: crash }\n  - { path: /hello, respond: { body: hi } }\n`,
    );
    const port = c.ports[0]!;
    await fresh(port, '/crash').catch(() => undefined);
    await c.waitFor(/acceptor thread (\d+) crashed/);
    const crashed = Number(c.stderr().match(/acceptor thread (\d+) crashed/)![1]);
    // The others serve meanwhile. A connection the kernel hands to the dying thread's listening
    // socket before it is closed may reset (SO_REUSEPORT spreads new connections over all of
    // them: with 2 threads that can be half of a burst), so count answers over up to 40 tries
    // instead of expecting a share of one burst (it was > 5 of 10: 5 was seen on Node 24).
    let answered = 0;
    for (let i = 0; i < 40 && answered < 5; i++) {
      const r = await fresh(port, '/hello').catch(() => undefined);
      if (r?.status === 200) answered++;
    }
    expect(answered).toBe(5);
    await c.waitFor(new RegExp(`acceptor thread ${crashed} back`));
    // It comes back: the replacement serves too.
    const before = (await accessLines(c, answered + 1)).length;
    let served = false;
    for (let i = 0; i < 50 && !served; i++) {
      expect((await fresh(port, '/hello')).status).toBe(200);
      served = (await accessLines(c, before + i + 1)).slice(before).some((l) => l.thread === crashed);
    }
    expect(served).toBe(true);
    expect(c.child.exitCode).toBe(null);
  });
});

describe('a replacement acceptor that fails to start', () => {
  it('is retried until it starts, not left out for good', async () => {
    const routes = mkdtempSync(join(tmpdir(), 'switchyard-routes-'));
    const good = `import { writeFileSync } from 'node:fs';
export default function flaky() {
  // the module is broken on disk while the crashed thread is replaced (a deploy mid-way)
  writeFileSync(new URL(import.meta.url).pathname, 'export default (;');
  setImmediate(() => { throw new Error('injected crash'); });
  return { status: 200, body: 'crashing' };
}
`;
    writeFileSync(join(routes, 'flaky.js'), good);
    const c = await startCli(
      `threads: 2\nroutes_dir: ${routes}\nlog: { level: info, access: off }\nroutes:\n  - { path: /flaky, handler: flaky }\n  - { path: /hello, respond: { body: hi } }\n`,
    );
    cli = { ...c, ports: c.ports };
    await fresh(c.ports[0]!, '/flaky').catch(() => undefined);
    const crashed = Number((await c.waitFor(/acceptor thread (\d+) crashed/))[1]);
    await c.waitFor(new RegExp(`acceptor thread ${crashed} failed to restart`));
    writeFileSync(join(routes, 'flaky.js'), good); // the deploy completes
    await c.waitFor(new RegExp(`acceptor thread ${crashed} back`), 20_000);
    expect(c.child.exitCode).toBe(null);
  });
});

describe('shared: too large to allocate', () => {
  it('fails the start with a configuration problem naming shared: and the size, not a bare allocation error', async () => {
    const tables = Array.from({ length: 10 }, (_, i) => `t${i}: { size: 1048576, key: 1024, value: 64KiB }`);
    const file = tempFile(
      'huge.yaml',
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nshared: { tables: { ${tables.join(', ')} } }\n`,
    );
    const r = await runCliToEnd(['start', '-c', file]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(
      /shared: the tables need \d+(\.\d)? MiB of shared memory, which could not be allocated/,
    );
  });
});

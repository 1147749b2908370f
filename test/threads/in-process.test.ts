/**
 * The supervisor in this process (startServer with `threads: 2`): one job pool for the process —
 * jobs from every acceptor run on the supervisor's piscina pool (one global limit), and a client
 * that goes away still terminates the worker running its job across the thread hop
 * (src/threads/jobs.ts); and a reload reaches every acceptor (Server.reloadThreads).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { ROUTES as FIXTURES } from '../helpers/paths.js';
import { openRequest } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

function threadIds(t: TestServer): number[] {
  return t.pool.threadIds();
}

/** One request on its own connection (closed after the response): the status code. */
async function status(port: number, path: string): Promise<number> {
  const sock = connect(port, '127.0.0.1');
  sock.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n`);
  let text = '';
  sock.on('data', (c) => {
    text += c;
  });
  await new Promise((r) => sock.once('close', r));
  return Number(text.split(' ')[1]);
}

describe('threads: 2, one job pool', () => {
  it('the pool limit is process-wide: one thread, no queue → one job at a time across all acceptors', async () => {
    s = await startServer(
      `threads: 2\nroutes_dir: ${FIXTURES}\npool: { threads: 1, queue: 0 }\nroutes:\n  - { path: /burn, handler: burn }\n`,
    );
    const port = s.port;
    // 16 fresh connections: the kernel spreads them over the threads by address hash, and all of
    // them land on one of 2 threads 2 × 2⁻¹⁶ of the time (with 8: 0.8 %)
    const codes = await Promise.all(Array.from({ length: 16 }, () => status(port, '/burn?ms=600')));
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 503)).toHaveLength(15);
    await until(() => s!.access.length >= 16, 10_000, 'access lines');
    expect(new Set(s.access.map((l) => l.thread)).size).toBe(2);
    expect(s.access.filter((l) => l.err === 'SY_ERR_POOL_FULL')).toHaveLength(15);
  });

  it('a client that leaves terminates the worker running its job, across the hop', async () => {
    s = await startServer(
      `threads: 2\nroutes_dir: ${FIXTURES}\nroutes:\n  - { path: /burn, handler: burn }\n`,
    );
    const t = s;
    const sock = await openRequest(t.port, '/burn?ms=-1'); // burns until terminated
    await until(() => t.pool.stats().running === 1, 10_000, 'the job to start');
    const burning = threadIds(t);
    sock.destroy();
    await until(() => t.pool.stats().cancelled === 1, 10_000, 'the job to be cancelled');
    await until(() => !burning.every((id) => threadIds(t).includes(id)), 10_000, 'the burning worker to end');
    await until(() => t.access.length === 1, 10_000, 'the access line');
    expect(t.access[0]).toMatchObject({ status: 0, closed_by: 'client', job: 'burn' });
  });
});

describe('threads: 2, a crashed acceptor', () => {
  it('its running jobs are cancelled (their worker terminated), and the pool keeps serving', async () => {
    s = await startServer(
      `threads: 2\nroutes_dir: ${FIXTURES}\nroutes:\n  - { path: /bc, handler: burn-then-crash }\n  - { path: /burn, handler: burn }\n`,
    );
    const t = s;
    expect(await status(t.port, '/bc')).toBe(200);
    await until(() => t.pool.stats().running === 1, 10_000, 'the job to start');
    const burning = threadIds(t);
    await until(() => t.errors.some((l) => /crashed/.test(String(l.msg))), 10_000, 'the crash');
    await until(() => t.pool.stats().cancelled === 1, 10_000, 'the orphaned job to be cancelled');
    await until(() => !burning.every((id) => threadIds(t).includes(id)), 10_000, 'its worker to end');
    expect(await status(t.port, '/burn?ms=10')).toBe(200);
  });
});

describe('threads: 2, reload', () => {
  it('every acceptor routes with the new config after reloadThreads', async () => {
    const yaml = (body: string) => `threads: 2\nroutes:\n  - { path: /a, respond: { body: ${body} } }\n`;
    s = await startServer(yaml('one'));
    const t = s;
    const get = async () => {
      const sock = connect(t.port, '127.0.0.1');
      sock.write('GET /a HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n');
      let text = '';
      sock.on('data', (c) => {
        text += c;
      });
      await new Promise((r) => sock.once('close', r));
      return text.slice(text.indexOf('\r\n\r\n') + 4);
    };
    expect(await get()).toBe('one');
    const next = parseConfig(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\n${yaml('two')}`,
      '/tmp/switchyard-test.yaml',
    );
    expect(await t.server.reloadThreads(next)).toEqual([]);
    // 16 fresh connections, so that both threads get some (all on one: 2 × 2⁻¹⁶)
    const bodies = await Promise.all(Array.from({ length: 16 }, get));
    expect(new Set(bodies)).toEqual(new Set(['two']));
    await until(() => t.access.length >= 17, 10_000, 'access lines');
    expect(new Set(t.access.slice(1).map((l) => l.thread)).size).toBe(2);
  });
});

/**
 * One job pool for the process: with acceptor threads, jobs from every thread run on the
 * supervisor's one piscina pool (one global limit), and a client that goes away still terminates
 * the worker running its job, across the thread hop (src/threads/jobs.ts).
 */
import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
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
  const p = (t.pool as unknown as { piscina?: { threads: { threadId: number }[] } }).piscina;
  return p === undefined ? [] : p.threads.map((w) => w.threadId);
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
    const codes = await Promise.all(Array.from({ length: 8 }, () => status(port, '/burn?ms=600')));
    expect(codes.filter((c) => c === 200)).toHaveLength(1);
    expect(codes.filter((c) => c === 503)).toHaveLength(7);
    await until(() => s!.access.length >= 8, 10_000, 'access lines');
    expect(new Set(s.access.map((l) => l.thread)).size).toBe(2);
    expect(s.access.filter((l) => l.err === 'SY_ERR_POOL_FULL')).toHaveLength(7);
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
    expect(t.access[0]).toMatchObject({ status: 499, job: 'burn' });
  });
});

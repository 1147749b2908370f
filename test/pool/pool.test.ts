/**
 * JobPool on its own (no HTTP): discovery, lazy threads, inline vs worker, transfer of large
 * buffers, cancellation reasons, close; and the config errors around jobs.
 */
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { silentLogs } from '../../src/observe/log.js';
import { JobPool as Pool } from '../../src/pool/index.js';
import { ROUTES } from '../helpers/paths.js';
import { pace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';

const config = (yaml: string) => parseConfig(yaml, '/tmp/switchyard-pool-test.yaml').config;

describe('JobPool', () => {
  let pool: Pool;
  beforeAll(async () => {
    pool = await Pool.start(config('pool: { threads: 2, queue: 8 }'), ROUTES, silentLogs());
  });
  afterAll(() => pool.close());

  it('registers every jobs/*.js by file name and starts no thread until the first job', async () => {
    expect([...pool.jobs.keys()]).toEqual(['burn', 'bytes', 'echo', 'exit', 'fail', 'shapes', 'where']);
    expect(pool.stats()).toMatchObject({ threads: 0, maxThreads: 2, capacity: 10, queued: 0, running: 0 });
    expect(await pool.run<number>('where', null)).toBeGreaterThan(0);
    expect(pool.stats().threads).toBeGreaterThanOrEqual(1);
  });

  it('inline runs on the calling thread, the pool on a worker', async () => {
    expect(await pool.run('where', null, { inline: true })).toBe(0);
    expect(await pool.run('where', null, { inline: false })).not.toBe(0);
  });

  it('transfers a large input buffer (detached here) and copies a small one', async () => {
    const big = new Uint8Array(1024 * 1024).fill(7);
    const back = await pool.run<Uint8Array>('echo', big);
    expect(big.byteLength).toBe(0); // moved to the worker
    expect(back.byteLength).toBe(1024 * 1024);
    expect(back[12345]).toBe(7);

    const small = new Uint8Array(1024).fill(3);
    const back2 = await pool.run<Uint8Array>('echo', small);
    expect(small.byteLength).toBe(1024);
    expect(back2[5]).toBe(3);

    // inside a plain object, as an ArrayBuffer
    const input = { data: new ArrayBuffer(128 * 1024), name: 'x' };
    const back3 = await pool.run<{ data: ArrayBuffer; name: string }>('echo', input);
    expect(input.data.byteLength).toBe(0);
    expect(back3.data.byteLength).toBe(128 * 1024);
    expect(back3.name).toBe('x');
  });

  it('never transfers a view on part of a larger buffer (its owner keeps the rest)', async () => {
    const whole = new ArrayBuffer(512 * 1024);
    const part = new Uint8Array(whole, 0, 256 * 1024).fill(9);
    const back = await pool.run<Uint8Array>('echo', part);
    expect(whole.byteLength).toBe(512 * 1024);
    expect(back.byteLength).toBe(256 * 1024);
    expect(back[100]).toBe(9);
  });

  it('returns a large output intact (transferred back)', async () => {
    const out = await pool.run<Uint8Array>('bytes', 300_000);
    expect(out).toBeInstanceOf(Uint8Array);
    expect(out.byteLength).toBe(300_000);
    expect(out[299_999]).toBe(300_000 % 251);
  });

  it('an already aborted signal rejects with its reason and runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const before = pool.stats().jobs.where!;
    await expect(pool.run('where', null, { signal: ac.signal })).rejects.toMatchObject({
      code: 'SY_ERR_CANCELLED',
    });
    expect(pool.stats().jobs.where!.count).toBe(before.count);
    expect(pool.stats().jobs.where!.cancelled).toBe(before.cancelled + 1);
  });

  it('an abort while running rejects at once with the reason given', async () => {
    const hb = new Int32Array(new SharedArrayBuffer(16));
    const ac = new AbortController();
    const paceMs = await pace(() => pool.run('where', null));
    const p = pool.run('burn', { hb, ms: -1 }, { signal: ac.signal });
    while (Atomics.load(hb, 0) === 0) await new Promise((r) => setTimeout(r, 1));
    const reason = Object.assign(new Error('deadline'), { code: 'SY_ERR_TIMEOUT' });
    const t0 = performance.now();
    ac.abort(reason);
    const err = await p.catch((e: unknown) => e);
    expect(performance.now() - t0).toBeLessThan(scaled(50, paceMs, QUIET_PACE_MS.job));
    expect(err).toMatchObject({ code: 'SY_ERR_TIMEOUT', status: 504 });
  });

  it('a failing job rejects with SY_ERR_JOB_FAILED and its error as cause', async () => {
    const err = (await pool.run('fail', { a: 1 }).catch((e: unknown) => e)) as Error & {
      code: string;
      cause: Error;
    };
    expect(err.code).toBe('SY_ERR_JOB_FAILED');
    expect(err.message).toBe('job "fail" failed: bad input: {"a":1}');
    expect(err.cause.name).toBe('TypeError');
    const inline = (await pool.run('fail', 1, { inline: true }).catch((e: unknown) => e)) as { code: string };
    expect(inline.code).toBe('SY_ERR_JOB_FAILED');
  });

  it('a job that throws null or returns what cannot be cloned fails with the reason; its worker lives on', async () => {
    await pool.run('shapes', 7);
    const before = pool.threadIds();
    const failure = async (n: number) =>
      (await pool.run('shapes', n).catch((e: unknown) => e)) as Error & { code: string };
    const thrownNull = await failure(5);
    expect(thrownNull.code).toBe('SY_ERR_JOB_FAILED');
    expect(thrownNull.message).toBe('job "shapes" failed: the job threw null');
    for (const n of [6, 8]) {
      const e = await failure(n);
      expect(e.code).toBe('SY_ERR_JOB_FAILED');
      expect(e.message).toMatch(
        /^job "shapes" failed: the job's result cannot be sent back to the main thread \(.*could not be cloned/,
      );
    }
    const thrownFn = await failure(9);
    expect(thrownFn.message).toMatch(/^job "shapes" failed: the job threw a value that cannot be sent back/);
    expect(await pool.run('shapes', 2)).toEqual({ a: 1, b: 'x\ny' });
    expect(pool.threadIds()).toEqual(expect.arrayContaining(before));
  });

  it('inline: an abort releases the caller of an async job that never settles', async () => {
    const ac = new AbortController();
    const before = pool.stats().jobs.shapes!.cancelled;
    const p = pool.run('shapes', 10, { inline: true, signal: ac.signal });
    ac.abort(Object.assign(new Error('deadline'), { code: 'SY_ERR_TIMEOUT' }));
    await expect(p).rejects.toMatchObject({ code: 'SY_ERR_TIMEOUT', status: 504 });
    expect(pool.stats().jobs.shapes!.cancelled).toBe(before + 1);
  });

  it('an unknown job rejects with SY_ERR_UNKNOWN_JOB', async () => {
    await expect(pool.run('nope', 1)).rejects.toMatchObject({ code: 'SY_ERR_UNKNOWN_JOB', status: 500 });
  });

  it('refuses more than threads + queue jobs at once, with Retry-After', async () => {
    const small = await Pool.start(config('pool: { threads: 1, queue: 0 }'), ROUTES, silentLogs());
    try {
      const first = small.run('burn', { hb: new Int32Array(new SharedArrayBuffer(16)), ms: 100 });
      const err = (await small.run('where', null).catch((e: unknown) => e)) as {
        code: string;
        status: number;
        headers: Record<string, string>;
      };
      expect(err).toMatchObject({ code: 'SY_ERR_POOL_FULL', status: 503 });
      expect(err.headers).toEqual({ 'retry-after': '1' });
      await first;
      expect(await small.run('where', null)).toBeGreaterThan(0);
      expect(small.stats()).toMatchObject({ rejected: 1, completed: 2 });
    } finally {
      await small.close();
    }
  });

  it('after close, threads are gone and jobs are refused', async () => {
    const p = await Pool.start(config('pool: { threads: 1 }'), ROUTES, silentLogs());
    await p.run('where', null);
    await p.close();
    expect(p.stats().threads).toBe(0);
    await expect(p.run('where', null)).rejects.toMatchObject({ code: 'SY_ERR_SHUTTING_DOWN' });
  });

  it('threads: auto is cores − 1, at least 1; idle defaults to 30 s', async () => {
    const p = await Pool.start(config(''), ROUTES, silentLogs());
    expect(p.maxThreads).toBe(Math.max(1, availableParallelism() - 1));
    expect(p.idleMs).toBe(30_000);
    expect(p.queueLimit).toBe(256);
    await p.close();
  });
});

describe('job configuration errors', () => {
  it('a tcp listener naming an unknown job is a config error', () => {
    const yaml = `
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: nope }
routes_dir: ${ROUTES}
`;
    expect(() => parseConfig(yaml, '/tmp/x.yaml')).toThrow(ConfigError);
    expect(() => parseConfig(yaml, '/tmp/x.yaml')).toThrow(/listen\[0\]\.job: unknown job "nope"/);
  });

  it('a job module without a default-exported function stops start-up, naming the file', async () => {
    await expect(Pool.start(config(''), join(ROUTES, 'badjob'), silentLogs())).rejects.toThrow(
      /nodefault\.js: a job module must default-export a function/,
    );
  });

  it('a routes dir without jobs/ registers none', async () => {
    const p = await Pool.start(config(''), join(ROUTES, 'jobs'), silentLogs());
    expect(p.jobs.size).toBe(0);
    await expect(p.run('fib', 1)).rejects.toMatchObject({ code: 'SY_ERR_UNKNOWN_JOB' });
    await p.close();
  });
});

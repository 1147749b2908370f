/**
 * GET /fib/:n end to end (the real handler routes/fib.ts and job routes/jobs/fib.ts, built), on the
 * pool and inline; and the job itself.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILT_ROUTES } from '../helpers/paths.js';
import { rawGet } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';

const { default: fib } = (await import(join(BUILT_ROUTES, 'jobs', 'fib.js'))) as {
  default: (n: number) => number | string;
};

/** fib(n) by iteration in BigInt: the reference the job is checked against. */
function refFib(n: number): bigint {
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

describe('the fib job', () => {
  it('is exact for every n in 0..90: a number up to 2^53, a string above', () => {
    for (let n = 0; n <= 90; n++) {
      if (n > 30 && n <= 45) continue; // the exponential range: checked over HTTP below for 32
      const want = refFib(n);
      const got = fib(n);
      if (want > 2n ** 53n) expect(got, `fib(${n})`).toBe(want.toString());
      else expect(got, `fib(${n})`).toBe(Number(want));
    }
    expect(fib(78)).toBe(8944394323791464);
    expect(fib(79)).toBe('14472334024676221');
  });

  it('throws a RangeError outside 0..90 or for a non-integer', () => {
    for (const bad of [-1, 91, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => fib(bad)).toThrow(RangeError);
    }
  });
});

describe('GET /fib/:n', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`
pool: { threads: 2, queue: 16 }
routes_dir: ${BUILT_ROUTES}
routes:
  - { path: "/fib/:n", handler: fib, timeout: 30s }
  - { path: "/inline/fib/:n", handler: fib, inline: true }
`);
  });
  afterAll(() => s.close());

  it('answers small and large n', async () => {
    const cases: [number, unknown][] = [
      [0, 0],
      [1, 1],
      [2, 1],
      [10, 55],
      [30, 832040],
      [32, 2178309],
      [46, 1836311903],
      [78, 8944394323791464],
      [79, '14472334024676221'],
      [90, '2880067194370816120'],
    ];
    for (const [n, result] of cases) {
      const r = await rawGet(s.port, `/fib/${n}`);
      expect(r.status, `n=${n}`).toBe(200);
      expect(r.headers['content-type']).toBe('application/json');
      expect(JSON.parse(r.body)).toEqual({ n, result });
    }
    expect((await rawGet(s.port, '/fib/30')).body).toBe('{"n":30,"result":832040}');
  });

  it('answers 400 with a reason for n that is not an integer in 0..90', async () => {
    for (const bad of ['91', '-1', 'abc', '1.5', '1e1', '0x10', '%2B5', '1000000000000']) {
      const r = await rawGet(s.port, `/fib/${bad}`);
      expect(r.status, bad).toBe(400);
      expect(r.body).toBe('n must be an integer in 0..90 (SY_ERR_BAD_REQUEST)\n');
    }
    const j = await rawGet(s.port, '/fib/91', 'Accept: application/json\r\n');
    expect(JSON.parse(j.body)).toEqual({
      error: 'n must be an integer in 0..90',
      code: 'SY_ERR_BAD_REQUEST',
      status: 400,
    });
  });

  it('inline: true gives the same answers', async () => {
    for (const n of [0, 25, 79]) {
      const a = await rawGet(s.port, `/fib/${n}`);
      const b = await rawGet(s.port, `/inline/fib/${n}`);
      expect(b.status).toBe(200);
      expect(b.body).toBe(a.body);
    }
  });

  it('writes job, queue wait and run time into the access log', async () => {
    await rawGet(s.port, '/fib/27');
    await rawGet(s.port, '/inline/fib/27');
    const pooled = s.access.filter((l) => l.path === '/fib/27').at(-1)!;
    expect(pooled).toMatchObject({ status: 200, job: 'fib' });
    expect(pooled.job_wait_ms).toBeTypeOf('number');
    expect(pooled.job_run_ms as number).toBeGreaterThan(0);
    expect(pooled.job_inline).toBeUndefined();
    const inline = s.access.filter((l) => l.path === '/inline/fib/27').at(-1)!;
    expect(inline).toMatchObject({ status: 200, job: 'fib', job_inline: true, job_wait_ms: 0 });
    const bad = s.access.filter((l) => l.path === '/fib/91').at(-1)!;
    expect(bad.job).toBeUndefined(); // refused before any job
  });

  it('counts jobs per name in stats()', async () => {
    const st = s.pool.stats();
    expect(st.maxThreads).toBe(2);
    expect(st.capacity).toBe(18);
    expect(st.jobs.fib!.count).toBeGreaterThan(10);
    expect(st.jobs.fib!.run_ms).toBeGreaterThan(0);
    expect(st.threads).toBeGreaterThanOrEqual(1);
    expect(st.running + st.queued).toBe(0);
  });
});

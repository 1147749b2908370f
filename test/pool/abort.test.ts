/**
 * Cancellation and overload through a real server: a client abort or a route timeout terminates
 * the worker running the job (measured with a heartbeat the burning job increments in shared
 * memory), removes a queued job, and a full pool answers 503 with Retry-After at once.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ROUTES } from '../helpers/paths.js';
import { openRequest, rawGet } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { until } from '../helpers/wait.js';

declare global {
  // the heartbeat fixture handler test/fixtures/routes/burn.js hands to the burn job
  var __syHeartbeat: Int32Array | undefined;
}

let hb: Int32Array;
/** when the burn job last beat (performance.timeOrigin + now(), written by the worker) */
let lastBeatAt: Float64Array;
beforeEach(() => {
  const sab = new SharedArrayBuffer(32);
  hb = new Int32Array(sab, 0, 4);
  lastBeatAt = new Float64Array(sab, 16, 1);
  globalThis.__syHeartbeat = hb;
});
afterEach(() => {
  globalThis.__syHeartbeat = undefined;
});

const beats = () => Atomics.load(hb, 0);
const starts = () => Atomics.load(hb, 2);
const clock = () => performance.timeOrigin + performance.now();

/** Threads alive in the pool (their ids), from piscina. */
function threadIds(s: TestServer): number[] {
  return s.pool.threadIds();
}

/**
 * Wait until the heartbeat has been still for `quietMs`, then return when the burning worker
 * last beat, in ms after `t0` (both on the cross-thread clock `timeOrigin + now()`). The worker
 * stamps its own beats, so a late sample on this side does not count against the pool.
 */
async function stoppedAfter(t0: number, quietMs = 100): Promise<number> {
  let last = beats();
  let lastChange = performance.now();
  while (performance.now() - lastChange < quietMs) {
    await new Promise((r) => setImmediate(r));
    const v = beats();
    if (v !== last) {
      last = v;
      lastChange = performance.now();
    }
  }
  const at = lastBeatAt[0]!;
  // the worker did stamp its beats: the measurement measures something
  expect(at).toBeGreaterThan(0);
  return Math.max(0, at - t0);
}

describe('abort a running job', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`
pool: { threads: 1, queue: 4 }
routes_dir: ${ROUTES}
routes:
  - { path: /burn, handler: burn }
  - { path: /burn-timeout, handler: burn, timeout: 150ms }
  - { path: "/job/:name", handler: job }
`);
  });
  afterAll(() => s.close());

  it('a client that goes away terminates the worker within 50 ms; the next job still runs', async () => {
    const p = await pace(() => rawGet(s.port, '/job/where'));
    const sock = await openRequest(s.port, '/burn');
    await until(() => beats() > 1000, 'the burn job to run');
    const victim = Atomics.load(hb, 1);
    expect(threadIds(s)).toContain(victim);

    const t0 = clock();
    sock.destroy();
    const stopMs = await stoppedAfter(t0);
    console.log(`client abort: heartbeat stopped ${stopMs.toFixed(2)} ms after the client closed`);
    expect(stopMs).toBeLessThan(scaled(50, p, QUIET_PACE_MS.job));
    await until(() => !threadIds(s).includes(victim), 'the worker to be removed');

    const next = await rawGet(s.port, '/job/where');
    expect(next.status).toBe(200);
    const { result } = JSON.parse(next.body) as { result: number };
    expect(result).not.toBe(victim);
    expect(result).toBeGreaterThan(0);

    await until(() => s.access.find((l) => l.path === '/burn'), 'the access-log line');
    expect(s.access.find((l) => l.path === '/burn')).toMatchObject({
      status: 0,
      closed_by: 'client',
      err: 'SY_ERR_CLIENT_GONE',
      job: 'burn',
    });
    expect(s.pool.stats().jobs.burn!.cancelled).toBeGreaterThanOrEqual(1);
  });

  it("the route's timeout answers 504 and terminates the worker", async () => {
    const p = await pace(() => rawGet(s.port, '/job/where'));
    const t0 = clock();
    const r = await rawGet(s.port, '/burn-timeout');
    const tResponse = clock();
    expect(r.status).toBe(504);
    expect(tResponse - t0).toBeGreaterThanOrEqual(140);
    expect(tResponse - t0).toBeLessThan(scaled(1000, p, QUIET_PACE_MS.job));
    expect(starts()).toBe(1);
    const stopMs = await stoppedAfter(tResponse);
    expect(stopMs).toBeLessThan(scaled(50, p, QUIET_PACE_MS.job));
    const next = await rawGet(s.port, '/job/where');
    expect(next.status).toBe(200);
  });

  it('a job that finishes is not disturbed (burn for 30 ms)', async () => {
    const r = await rawGet(s.port, '/burn?ms=30');
    expect(r.status).toBe(200);
    expect(JSON.parse(r.body).thread).toBe(Atomics.load(hb, 1));
  });
});

describe('queued jobs and a full pool', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`
pool: { threads: 1, queue: 1 }
routes_dir: ${ROUTES}
routes:
  - { path: /burn, handler: burn }
  - { path: "/job/:name", handler: job }
  - { path: "/timed/job/:name", handler: job, timeout: 200ms }
`);
  });
  afterAll(() => s.close());

  it('a client abort removes its queued job: it never starts', async () => {
    const a = await openRequest(s.port, '/burn');
    try {
      await until(() => beats() > 0, 'job A to run');
      const b = await openRequest(s.port, '/burn');
      await until(() => s.pool.stats().queued === 1, 'job B to be queued');
      b.destroy();
      await until(() => s.pool.stats().queued === 0, 'job B to leave the queue');
    } finally {
      a.destroy();
    }
    await stoppedAfter(clock(), 50);
    expect(starts()).toBe(1);
    expect((await rawGet(s.port, '/job/where')).status).toBe(200);
    expect(starts()).toBe(1);
  });

  it('queue full → 503 with Retry-After at once; accepted again once there is room', async () => {
    const p = await pace(() => rawGet(s.port, '/job/where'));
    const a = await openRequest(s.port, '/burn');
    const b = await openRequest(s.port, '/burn');
    try {
      await until(() => beats() > 0, 'job A to run');
      await until(() => s.pool.stats().queued === 1, 'job B to be queued');

      const rejectedBefore = s.pool.stats().rejected;
      const t0 = performance.now();
      const c = await rawGet(s.port, '/job/where');
      const ms = performance.now() - t0;
      expect(c.status).toBe(503);
      expect(c.headers['retry-after']).toBe('1');
      expect(c.body).toBe('server busy, try again later (SY_ERR_POOL_FULL)\n');
      // "At once": A burns forever and B waits behind it, so any answer did not wait for a slot.
      // The bound is loose: this 2-core box is running the burn, the server and the test.
      expect(ms).toBeLessThan(scaled(500, p, QUIET_PACE_MS.job));
      expect(s.pool.stats()).toMatchObject({ running: 1, queued: 1, rejected: rejectedBefore + 1 });
      expect(s.access.find((l) => l.path === '/job/where' && l.status === 503)).toMatchObject({
        err: 'SY_ERR_POOL_FULL',
      });
    } finally {
      b.destroy();
      a.destroy();
    }
    await until(() => s.pool.stats().running + s.pool.stats().queued === 0, 'the pool to empty');
    expect((await rawGet(s.port, '/job/where')).status).toBe(200);
  });

  it("a queued job waits no longer than the route's timeout, then leaves the queue", async () => {
    const p = await pace(() => rawGet(s.port, '/job/where'));
    const a = await openRequest(s.port, '/burn');
    try {
      await until(() => beats() > 0, 'job A to run');
      const t0 = performance.now();
      const r = await rawGet(s.port, '/timed/job/where');
      const ms = performance.now() - t0;
      expect(r.status).toBe(504);
      expect(ms).toBeGreaterThanOrEqual(190);
      expect(ms).toBeLessThan(scaled(1000, p, QUIET_PACE_MS.job));
      expect(s.pool.stats().queued).toBe(0);
    } finally {
      a.destroy();
    }
    await until(() => s.pool.stats().running === 0, 'A to stop');
  });
});

describe('jobs that fail', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`
pool: { threads: 1, queue: 4 }
routes_dir: ${ROUTES}
routes:
  - { path: "/job/:name", handler: job }
`);
  });
  afterAll(() => s.close());

  it('a job that throws → 500 SY_ERR_JOB_FAILED, its error in the error log', async () => {
    const r = await rawGet(s.port, '/job/fail?input=7');
    expect(r.status).toBe(500);
    expect(r.body).toBe('job failed (SY_ERR_JOB_FAILED)\n');
    const logged = await until(() => s.errors.find((l) => l.code === 'SY_ERR_JOB_FAILED'));
    expect(String((logged.err as { message: string }).message)).toContain('bad input: 7');
    expect(s.pool.stats().jobs.fail!.failed).toBe(1);
  });

  it('a job that kills its worker → 500, and the pool recovers', async () => {
    const r = await rawGet(s.port, '/job/exit');
    expect(r.status).toBe(500);
    expect(r.body).toContain('SY_ERR_JOB_FAILED');
    const next = await rawGet(s.port, '/job/where');
    expect(next.status).toBe(200);
  });

  it('an unknown job → 500 SY_ERR_UNKNOWN_JOB', async () => {
    const r = await rawGet(s.port, '/job/nope');
    expect(r.status).toBe(500);
    expect(r.body).toBe('unknown job (SY_ERR_UNKNOWN_JOB)\n');
  });
});

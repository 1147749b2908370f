/**
 * The shared region from several real worker threads at once: what the doc-comments in
 * src/region/ promise about races holds (exact counters, a token bucket that never admits N× its
 * rate, a table whose read-modify-writes are not lost), plus the table's bounds and eviction rule.
 */
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { SharedRegion, sharedNow } from '../../src/region/index.js';
import { until } from '../helpers/wait.js';

const WORKER = new URL('../fixtures/threads/shared-worker.mjs', import.meta.url);

interface Result {
  result: number;
  /** shared-clock ms when the thread began (bucket) */
  first: number;
  /** the common end time (bucket) */
  end: number;
  /** bucket: shared-clock [from, to] of each pause over 1 ms between two of this thread's tries */
  stalls: [number, number][];
}

/**
 * The stretches of [from, to] in which no thread was trying (each thread tries from its `first` to
 * the end, except during its stalls): on a busy machine all of them can be descheduled at once.
 */
function idleStretches(results: Result[], from: number, to: number): number[] {
  const busy: [number, number][] = [];
  for (const r of results) {
    let at = r.first;
    for (const [a, b] of r.stalls) {
      busy.push([at, a]);
      at = b;
    }
    busy.push([at, to]);
  }
  busy.sort((x, y) => x[0] - y[0]);
  const idle: number[] = [];
  let reached = from;
  for (const [a, b] of busy) {
    if (a > reached) idle.push(a - reached);
    reached = Math.max(reached, b);
  }
  if (to > reached) idle.push(to - reached);
  return idle;
}

/**
 * Run `threads` workers on the region doing `op` `n` times (bucket: for `n` ms from the start, a
 * common end time); resolves with their results.
 */
async function hammer(region: SharedRegion, threads: number, op: string, n: number): Promise<Result[]> {
  const start = new SharedArrayBuffer(16);
  const workers = Array.from(
    { length: threads },
    () => new Worker(WORKER, { workerData: { handoff: region.handoff(), op, n, start } }),
  );
  const results = workers.map(
    (w) =>
      new Promise<Result>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  // every worker booted and parked (each counts itself in word 1) before they all start at once
  await until(() => Atomics.load(new Int32Array(start), 1) === threads, 'every worker parked');
  new Float64Array(start, 8, 1)[0] = sharedNow() + n;
  Atomics.store(new Int32Array(start), 0, 1);
  Atomics.notify(new Int32Array(start), 0);
  try {
    return await Promise.all(results);
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

describe('shared region across threads', () => {
  it.each([2, 4])(
    'a counter incremented 100,000 times from each of %i threads ends exact',
    async (threads) => {
      const region = SharedRegion.create({ counters: ['hits'] });
      await hammer(region, threads, 'count', 100_000);
      expect(region.counter('hits').value).toBe(threads * 100_000);
    },
  );

  it('a token bucket shared by 4 threads admits rate × time + burst + 1, not 4×', async () => {
    const rate = 1000;
    const burst = 50;
    const region = SharedRegion.create({ buckets: [{ name: 'api', rate, burst }] });
    const ms = 2000;
    const results = await hammer(region, 4, 'bucket', ms);
    const admitted = results.reduce((a, r) => a + r.result, 0);
    // The window runs from the first thread's first try to the common end (on a busy machine a
    // thread may start late, never early).
    const start = Math.min(...results.map((r) => r.first));
    const window = results[0]!.end - start;
    const expected = (rate * Math.min(window, ms)) / 1000 + burst + 1;
    expect(admitted).toBeLessThan(expected * 1.05);
    // Tokens go unclaimed only while no thread tries: a stretch of L ms then loses what accrued
    // beyond the burst (on a busy machine every thread may be descheduled at once).
    const lost = idleStretches(results, start, results[0]!.end).reduce(
      (sum, l) => sum + Math.max(0, (rate * l) / 1000 - burst),
      0,
    );
    expect(admitted).toBeGreaterThan((expected - lost) * 0.95);
  });

  it('table read-modify-writes from 4 threads lose no update', async () => {
    const region = SharedRegion.create({
      tables: [{ name: 't', capacity: 64, keyBytes: 16, valueBytes: 16 }],
    });
    await hammer(region, 4, 'table', 16_000);
    const t = region.table('t');
    let total = 0;
    for (let i = 0; i < 16; i++) total += Number(t.get(`k${i}`));
    expect(total).toBe(4 * 16_000);
    expect(t.size).toBe(16);
  });
});

describe('shared table', () => {
  it('gets, sets, updates and deletes; refuses keys and values over its bounds', () => {
    const t = SharedRegion.create({ tables: [{ name: 't', capacity: 8, keyBytes: 8, valueBytes: 8 }] }).table(
      't',
    );
    expect(t.get('a')).toBeUndefined();
    t.set('a', 'one');
    t.set('ü', 'zwei');
    expect(t.get('a')).toBe('one');
    expect(t.get('ü')).toBe('zwei');
    t.update('a', (v) => `${v}!`);
    expect(t.get('a')).toBe('one!');
    expect(t.delete('a')).toBe(true);
    expect(t.get('a')).toBeUndefined();
    expect(() => t.set('123456789', 'x')).toThrow(/key over 8 bytes/);
    expect(() => t.set('k', '123456789')).toThrow(/value of 9 bytes over 8/);
    expect(t.get('123456789')).toBeUndefined();
  });

  it('update(key, fn) writes key even when fn reads other keys; a write inside fn throws, never hangs', () => {
    const t = SharedRegion.create({
      tables: [{ name: 't', capacity: 64, keyBytes: 16, valueBytes: 32 }],
    }).table('t');
    t.set('total', '10');
    t.update('a', (old) => `${old ?? ''}+${t.get('total')}`);
    expect(t.get('a')).toBe('+10');
    expect(t.get('total')).toBe('10');
    t.update('a', () => (t.has('nope') ? 'x' : undefined));
    expect(t.get('a')).toBeUndefined();
    expect(() =>
      t.update('b', () => {
        t.set('b', 'inner');
        return 'outer';
      }),
    ).toThrow(/no writes from inside an update/);
    // the lock was given back: writes go on
    t.set('b', 'after');
    expect(t.get('b')).toBe('after');
  });

  it('evicts the least recently used record of a full window, never grows', () => {
    const t = SharedRegion.create({ tables: [{ name: 't', capacity: 8, keyBytes: 8, valueBytes: 8 }] }).table(
      't',
    );
    for (let i = 0; i < 8; i++) t.set(`k${i}`, String(i));
    expect(t.size).toBe(8);
    t.set('new', 'n');
    expect(t.size).toBe(8);
    expect(t.get('new')).toBe('n');
    const kept = Array.from({ length: 8 }, (_, i) => t.get(`k${i}`)).filter((v) => v !== undefined);
    expect(kept).toHaveLength(7);
  });

  it('a region attached from a handoff sees the same memory', () => {
    const a = SharedRegion.create({ counters: ['c'], gauges: ['g'], stamps: ['s'] });
    const b = SharedRegion.attach(a.handoff());
    a.counter('c').add(5);
    b.gauge('g').add(2);
    a.stamp('s').value = 1.5;
    expect(b.counter('c').value).toBe(5);
    expect(a.gauge('g').value).toBe(2);
    expect(b.stamp('s').value).toBe(1.5);
    expect(() => b.counter('nope')).toThrow(
      /no shared counter named "nope" \(declare it under shared: in the config; a change there takes effect on restart/,
    );
  });

  it('refuses a bad layout', () => {
    expect(() => SharedRegion.create({ counters: ['a', 'a'] })).toThrow(/two structures named/);
    expect(() =>
      SharedRegion.create({ tables: [{ name: 't', capacity: 0, keyBytes: 8, valueBytes: 8 }] }),
    ).toThrow(/capacity/);
  });
});

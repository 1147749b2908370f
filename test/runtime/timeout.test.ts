import { describe, expect, it } from 'vitest';
import { Cancelled, now, sleep, TimeoutError, withDeadline, withTimeout } from '../../src/runtime/index.js';
import { delay, failing, slow } from './helpers.js';

describe('withTimeout / withDeadline', () => {
  it('resolves with the work when it is in time', async () => {
    expect(await withTimeout(1000, undefined, slow(5, 'v'))).toBe('v');
  });

  it('rejects with TimeoutError after aborting and awaiting the work', async () => {
    const trace: string[] = [];
    const err = await withTimeout(10, undefined, slow(10_000, 'w', trace)).catch((e: unknown) => {
      trace.push('rejected');
      return e;
    });
    expect(err).toBeInstanceOf(TimeoutError);
    expect(trace).toEqual(['w aborted', 'rejected']);
  });

  it('the work sees the TimeoutError as its abort reason', async () => {
    let reason: unknown;
    const err = await withTimeout(5, undefined, async (signal) => {
      await sleep(10_000, signal).catch((e: unknown) => {
        reason = e;
        throw e;
      });
    }).catch((e: unknown) => e);
    expect(reason).toBe(err);
  });

  it('work that reports the abort with an AbortError of its own still yields the TimeoutError', async () => {
    const { setTimeout: nodeSleep } = await import('node:timers/promises');
    // node:timers/promises rejects with its own AbortError, not with signal.reason
    const err = await withTimeout(5, undefined, (signal) => nodeSleep(10_000, 'v', { signal })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('waits for work that ignores the abort, then still times out', async () => {
    const t0 = now();
    const reported: unknown[] = [];
    const err = await withTimeout(
      5,
      undefined,
      async () => {
        await delay(30);
        return 'late';
      },
      { onLoserValue: (v) => reported.push(v) },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(now() - t0).toBeGreaterThanOrEqual(25);
    expect(reported).toEqual(['late']);
  });

  it('a work failing in time rejects with its own error', async () => {
    const boom = new Error('boom');
    await expect(withTimeout(1000, undefined, failing(1, boom))).rejects.toBe(boom);
  });

  it('an outer abort cancels the work and no timeout follows', async () => {
    const outer = new AbortController();
    const p = withTimeout(20, outer.signal, (signal) => sleep(10_000, signal));
    outer.abort();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
  });

  it('withDeadline uses the performance.now() timebase', async () => {
    const err = await withDeadline(now() + 10, undefined, (signal) => sleep(10_000, signal)).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(TimeoutError);
    expect(await withDeadline(now() + 1000, undefined, async () => 'ok')).toBe('ok');
  });

  it('a deadline already passed does not start the work', async () => {
    let started = false;
    await expect(
      withDeadline(now() - 1, undefined, async () => {
        started = true;
      }),
    ).rejects.toBeInstanceOf(TimeoutError);
    expect(started).toBe(false);
  });
});

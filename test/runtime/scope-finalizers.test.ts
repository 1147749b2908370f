import { describe, expect, it } from 'vitest';
import { Cancelled, openScope, scope, sleep, TimeoutError } from '../../src/runtime/index.js';
import { delay, failing, slow } from './helpers.js';

describe('scope: finalizers', () => {
  it('run last in first out, after every task has settled', async () => {
    const trace: string[] = [];
    await scope(async (s) => {
      s.defer(() => {
        trace.push('fin 1');
      });
      s.fork(slow(20, 'task', trace));
      s.defer(async () => {
        await delay(5);
        trace.push('fin 2');
      });
      s.defer(() => {
        trace.push('fin 3');
      });
    });
    expect(trace).toEqual(['task done', 'fin 3', 'fin 2', 'fin 1']);
  });

  it('are shielded from the cancellation that ended the scope', async () => {
    const parent = new AbortController();
    let finSignalAborted: boolean | undefined;
    let finished = false;
    const p = scope(
      async (s) => {
        s.defer(async (signal) => {
          finSignalAborted = signal.aborted;
          await sleep(20, signal); // would reject at once if it observed the cancellation
          finished = true;
        });
        await sleep(10_000, s.signal);
      },
      { signal: parent.signal },
    );
    await delay(5);
    parent.abort();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
    expect(finSignalAborted).toBe(false);
    expect(finished).toBe(true);
  });

  it('are shielded from the deadline that ended the scope', async () => {
    let finished = false;
    const err = await scope(
      async (s) => {
        s.defer(async (signal) => {
          await sleep(20, signal);
          finished = true;
        });
        await sleep(10_000, s.signal);
      },
      { timeout: 10 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(finished).toBe(true);
  });

  it('an abort that lands during cleanup interrupts nothing and changes no outcome', async () => {
    const parent = new AbortController();
    let finished = false;
    const p = scope(
      async (s) => {
        s.defer(async (signal) => {
          parent.abort(); // lands while finalizers run
          await sleep(10, signal);
          finished = true;
        });
        return 'ok';
      },
      { signal: parent.signal },
    );
    await expect(p).resolves.toBe('ok');
    expect(finished).toBe(true);
  });

  it('a finalizer past its budget is abandoned, its signal aborted, and reported', async () => {
    const trace: string[] = [];
    let finSignal: AbortSignal | undefined;
    const t0 = performance.now();
    const err = await scope(
      async (s) => {
        s.defer(() => {
          trace.push('next finalizer still runs');
        });
        s.defer(async (signal) => {
          finSignal = signal;
          await delay(10_000); // ignores its signal
        });
        return 'ok';
      },
      { finalizerBudget: 20 },
    ).catch((e: unknown) => e);
    // abandoned at its budget, not awaited for the 10 s it ignores its signal
    expect(performance.now() - t0).toBeLessThan(10_000 / 2);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as Error).message).toMatch(/finalizer exceeded its 20 ms budget/);
    expect(finSignal?.aborted).toBe(true);
    expect(trace).toEqual(['next finalizer still runs']);
  });

  it('the finalizer after an abandoned one gets a fresh, non-aborted signal', async () => {
    let nextAborted: boolean | undefined;
    await scope(
      async (s) => {
        s.defer((signal) => {
          nextAborted = signal.aborted;
        });
        s.defer(() => delay(10_000));
        return 'ok';
      },
      { finalizerBudget: 10 },
    ).catch(() => {});
    expect(nextAborted).toBe(false);
  });

  it('a finalizer that throws is reported, and the others still run', async () => {
    const oops = new Error('finalizer failed');
    const trace: string[] = [];
    const err = await scope(async (s) => {
      s.defer(() => {
        trace.push('first registered, last run');
      });
      s.defer(() => {
        throw oops;
      });
      return 'ok';
    }).catch((e: unknown) => e);
    expect(err).toBe(oops);
    expect(trace).toEqual(['first registered, last run']);
  });

  it('a finalizer failure joins a task failure in an AggregateError, task first', async () => {
    const boom = new Error('task');
    const oops = new Error('finalizer');
    const err = await scope(async (s) => {
      s.defer(async () => {
        throw oops;
      });
      s.fork(failing(1, boom));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors).toEqual([boom, oops]);
  });

  it('a finalizer failure is not masked by the cancellation', async () => {
    const oops = new Error('finalizer');
    const s = openScope();
    s.defer(() => {
      throw oops;
    });
    s.cancel();
    await expect(s.close()).rejects.toBe(oops);
  });

  it('defer after close throws', async () => {
    const s = openScope();
    await s.close();
    expect(() => s.defer(() => {})).toThrow(/closed/);
  });
});

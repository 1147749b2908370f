import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cancelled, pick, sleep, TimeoutError } from '../../src/runtime/index.js';
import { delay, failing, slow } from './helpers.js';

describe('pick', () => {
  it('the first to succeed wins; the losers are aborted and awaited before pick returns', async () => {
    const trace: string[] = [];
    const v = await pick(undefined, [slow(10_000, 'slow', trace), slow(5, 'fast', trace)]);
    trace.push('pick returned');
    expect(v).toBe('fast');
    expect(trace).toEqual(['fast done', 'slow aborted', 'pick returned']);
  });

  it('the first to fail wins too', async () => {
    const boom = new Error('boom');
    const trace: string[] = [];
    const err = await pick(undefined, [slow(10_000, 'slow', trace), failing(5, boom, trace)]).catch(
      (e: unknown) => e,
    );
    expect(err).toBe(boom);
    expect(trace).toEqual(['failing failed', 'slow aborted']);
  });

  it("losers are aborted with Cancelled, the winner's signal is not", async () => {
    let loserReason: unknown;
    let winnerSignal: AbortSignal | undefined;
    await pick(undefined, [
      async (signal) => {
        winnerSignal = signal;
        await delay(5);
        return 'w';
      },
      async (signal) => {
        await sleep(10_000, signal).catch((e: unknown) => {
          loserReason = e;
          throw e;
        });
        return 'l';
      },
    ]);
    expect(loserReason).toBeInstanceOf(Cancelled);
    expect(winnerSignal?.aborted).toBe(false);
  });

  it('a loser that fails for real is handed to onLoserError', async () => {
    const late = new Error('loser failed for real');
    const reported: unknown[] = [];
    const v = await pick(
      undefined,
      [
        async () => 'winner',
        async (signal) => {
          await sleep(10_000, signal).catch(() => {});
          throw late;
        },
      ],
      { onLoserError: (err) => reported.push(err) },
    );
    expect(v).toBe('winner');
    expect(reported).toEqual([late]);
  });

  it('by default a loser failure becomes a process warning', async () => {
    const late = new Error('loser failed for real');
    const warned = once(process, 'warning');
    await pick(undefined, [
      async () => 'winner',
      async () => {
        await delay(5);
        throw late;
      },
    ]);
    const [warning] = (await warned) as [Error & { code: string }];
    expect(warning.name).toBe('SwitchyardLateError');
    expect(warning.code).toBe('SY_WARN_LATE_ERROR');
    expect(warning.cause).toBe(late);
  });

  it('a loser cancelled as asked is not reported', async () => {
    const reported: unknown[] = [];
    await pick(undefined, [async () => 1, (signal) => sleep(10_000, signal).then(() => 2)], {
      onLoserError: (err) => reported.push(err),
    });
    expect(reported).toEqual([]);
  });

  it('both finishing at once: one wins, the other value goes to onLoserValue', async () => {
    const released: string[] = [];
    const v = await pick(undefined, [async () => 'a', async () => 'b'], {
      onLoserValue: (value) => released.push(value),
    });
    expect(v).toBe('a');
    expect(released).toEqual(['b']);
  });

  it('the `first` pattern: work against a timer', async () => {
    const err = await pick(undefined, [
      (signal) => sleep(10_000, signal).then(() => 'answer'),
      (signal) => sleep(10, signal).then(() => Promise.reject(new TimeoutError())),
    ]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('an outer abort aborts every work', async () => {
    const outer = new AbortController();
    const trace: string[] = [];
    const p = pick(outer.signal, [slow(10_000, 'a', trace), slow(10_000, 'b', trace)]);
    await delay(5);
    outer.abort();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
    expect(trace.sort()).toEqual(['a aborted', 'b aborted']);
  });

  it('an already aborted signal starts nothing', async () => {
    let started = false;
    const p = pick(AbortSignal.abort(), [
      async () => {
        started = true;
      },
    ]);
    await expect(p).rejects.toBeInstanceOf(Cancelled);
    expect(started).toBe(false);
  });

  it('an empty list is refused', async () => {
    await expect(pick(undefined, [])).rejects.toBeInstanceOf(TypeError);
  });
});

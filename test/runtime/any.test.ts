import { describe, expect, it } from 'vitest';
import { any, Cancelled } from '../../src/runtime/index.js';
import { failing, slow } from './helpers.js';

describe('any', () => {
  it('the first success wins, even after failures; the losers are aborted and awaited', async () => {
    const trace: string[] = [];
    const v = await any(undefined, [
      failing(1, new Error('a'), trace, 'a'),
      slow(10, 'b', trace),
      slow(10_000, 'c', trace),
    ]);
    trace.push('any returned');
    expect(v).toBe('b');
    expect(trace).toEqual(['a failed', 'b done', 'c aborted', 'any returned']);
  });

  it('all failed: an AggregateError in input order', async () => {
    const a = new Error('a');
    const b = new Error('b');
    const err = await any(undefined, [failing(10, a), failing(1, b)]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors).toEqual([a, b]);
  });

  it('a cancelled any rejects with the cancellation', async () => {
    const outer = new AbortController();
    const p = any(outer.signal, [slow(10_000, 'a'), slow(10_000, 'b')]);
    outer.abort();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
  });

  it('a loser failing for real after the win is reported', async () => {
    const late = new Error('late');
    const reported: unknown[] = [];
    await any(
      undefined,
      [
        async () => 1,
        async () => {
          throw late;
        },
      ],
      { onLoserError: (e) => reported.push(e) },
    );
    expect(reported).toEqual([late]);
  });
});

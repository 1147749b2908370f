import { describe, expect, it } from 'vitest';
import { all, both, Cancelled } from '../../src/runtime/index.js';
import { failing, slow } from './helpers.js';

describe('all / both', () => {
  it('resolves with every value in input order', async () => {
    expect(await all(undefined, [slow(10, 'a'), slow(1, 'b')])).toEqual(['a', 'b']);
    const [n, s] = await both(
      undefined,
      async () => 1,
      async () => 'two',
    );
    expect(n + s.length).toBe(4);
  });

  it('the first failure cancels the rest, which are awaited', async () => {
    const boom = new Error('boom');
    const trace: string[] = [];
    const err = await all(undefined, [slow(10_000, 'x', trace), failing(5, boom, trace)]).catch(
      (e: unknown) => {
        trace.push('all rejected');
        return e;
      },
    );
    expect(err).toBe(boom);
    expect(trace).toEqual(['failing failed', 'x aborted', 'all rejected']);
  });

  it('two real failures: an AggregateError, first first', async () => {
    const a = new Error('a');
    const b = new Error('b');
    const err = await both(undefined, failing(20, b), failing(5, a)).catch((e: unknown) => e);
    expect((err as AggregateError).errors).toEqual([a, b]);
  });

  it('an outer abort rejects with Cancelled', async () => {
    const outer = new AbortController();
    const p = all(outer.signal, [slow(10_000, 'a')]);
    outer.abort();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
  });
});

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { all, any, openScope, pick, scope, withTimeout } from '../../src/runtime/index.js';
import { delay, failing, turn } from './helpers.js';

describe('no unhandled rejections from forked work', () => {
  const seen: unknown[] = [];
  const listener = (reason: unknown): void => {
    seen.push(reason);
  };
  beforeEach(() => {
    seen.length = 0;
    process.on('unhandledRejection', listener);
  });
  afterEach(() => {
    process.off('unhandledRejection', listener);
  });

  it('failing forks nobody awaits cause no unhandledRejection', async () => {
    await scope(async (s) => {
      for (let i = 0; i < 10; i++) s.fork(failing(i, new Error(`task ${i}`)));
      s.fork(() => {
        throw new Error('sync');
      });
    }).catch(() => {});
    const s = openScope();
    s.fork(async () => {
      throw new Error('x');
    });
    s.cancel();
    s.fork(async () => 1); // rejected at once: the scope is cancelled
    await s.close().catch(() => {});
    await delay(20);
    await turn();
    expect(seen).toEqual([]);
  });

  it('losers and timed-out work that fail cause no unhandledRejection', async () => {
    const quiet = { onLoserError: () => {} };
    await pick(undefined, [async () => 1, failing(5, new Error('loser'))], quiet);
    await any(undefined, [failing(1, new Error('a')), async () => 2, failing(5, new Error('b'))], quiet);
    await all(undefined, [failing(1, new Error('a')), failing(2, new Error('b'))]).catch(() => {});
    await withTimeout(1, undefined, failing(10, new Error('late')), quiet).catch(() => {});
    await delay(20);
    await turn();
    expect(seen).toEqual([]);
  });
});

import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancelled, isCancellation, scope, sleep } from '../../src/runtime/index.js';
import { deferred, delay, failing, slow } from './helpers.js';

describe('scope: tasks', () => {
  it('does not return before every forked task has settled', async () => {
    const trace: string[] = [];
    const value = await scope(async (s) => {
      s.fork(slow(30, 'a', trace));
      s.fork(slow(10, 'b', trace));
      trace.push('body done');
      return 'v';
    });
    trace.push('scope done');
    expect(value).toBe('v');
    expect(trace).toEqual(['body done', 'b done', 'a done', 'scope done']);
  });

  it('does not return before every forked task has settled when the body throws', async () => {
    const trace: string[] = [];
    const boom = new Error('boom');
    const result = scope(async (s) => {
      s.fork(async () => {
        await delay(20); // ignores its signal on purpose
        trace.push('task done');
      });
      throw boom;
    }).catch((err: unknown) => {
      trace.push('scope rejected');
      return err;
    });
    expect(await result).toBe(boom);
    expect(trace).toEqual(['task done', 'scope rejected']);
  });

  it('awaits tasks forked by tasks while it is closing', async () => {
    const trace: string[] = [];
    await scope(async (s) => {
      s.fork(async () => {
        await delay(5);
        s.fork(async () => {
          await delay(20);
          trace.push('grandchild done');
        });
      });
    });
    trace.push('scope done');
    expect(trace).toEqual(['grandchild done', 'scope done']);
  });

  it('fork returns the task result', async () => {
    const v = await scope(async (s) => {
      const a = s.fork(async () => 1);
      const b = s.fork(async () => 2);
      return (await a) + (await b);
    });
    expect(v).toBe(3);
  });

  it('a synchronous throw in forked work is a task failure, not a throw from fork', async () => {
    const boom = new Error('sync');
    await expect(
      scope(async (s) => {
        s.fork(() => {
          throw boom;
        });
      }),
    ).rejects.toBe(boom);
  });
});

describe('scope: failures', () => {
  it('the first real failure of a fork cancels the siblings', async () => {
    const boom = new Error('boom');
    let siblingReason: unknown;
    await expect(
      scope(async (s) => {
        s.fork(async (signal) => {
          await sleep(10_000, signal).catch((e: unknown) => {
            siblingReason = signal.reason;
            throw e;
          });
        });
        s.fork(failing(5, boom));
      }),
    ).rejects.toBe(boom);
    expect(siblingReason).toBeInstanceOf(Cancelled);
    expect((siblingReason as Cancelled).reason).toBe(boom);
  });

  it('a body failure cancels the forks', async () => {
    const boom = new Error('boom');
    let aborted = false;
    await expect(
      scope(async (s) => {
        s.fork(async (signal) => {
          await sleep(10_000, signal).catch((e: unknown) => {
            aborted = true;
            throw e;
          });
        });
        await delay(5);
        throw boom;
      }),
    ).rejects.toBe(boom);
    expect(aborted).toBe(true);
  });

  it('two real failures surface as an AggregateError, first error first', async () => {
    const first = new Error('first');
    const second = new Error('second');
    const err = await scope(async (s) => {
      s.fork(failing(20, second)); // ignores the cancellation and fails for real anyway
      s.fork(failing(5, first));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AggregateError);
    expect((err as AggregateError).errors).toEqual([first, second]);
  });

  it('a cancellation never masks a real error', async () => {
    const boom = new Error('boom');
    const err = await scope(async (s) => {
      // these reject with the scope's Cancelled reason, after the real failure
      s.fork(slow(10_000, 'x'));
      // these with cancellation errors of their own, as fetch and undici do
      s.fork(async (signal) => {
        await sleep(10_000, signal).catch(() => {});
        throw new DOMException('This operation was aborted', 'AbortError');
      });
      s.fork(async (signal) => {
        await sleep(10_000, signal).catch(() => {});
        throw new undiciErrors.RequestAbortedError();
      });
      s.fork(failing(5, boom));
      // and the body too, with a cancellation of its own
      await sleep(10_000, s.signal);
    }).catch((e: unknown) => e);
    expect(err).toBe(boom);
  });

  it('a real error that arrives after the scope was cancelled still surfaces', async () => {
    const parent = new AbortController();
    const boom = new Error('cleanup failed');
    const p = scope(
      async (s) => {
        s.fork(async (signal) => {
          await sleep(10_000, signal).catch(() => {});
          throw boom; // not the cancellation: a real failure while unwinding
        });
      },
      { signal: parent.signal },
    );
    await delay(5);
    parent.abort();
    await expect(p).rejects.toBe(boom);
  });

  it('fork on a cancelled scope does not start the work', async () => {
    let started = false;
    const err = await scope(async (s) => {
      s.cancel('stop');
      const p = s.fork(async () => {
        started = true;
      });
      await expect(p).rejects.toBeInstanceOf(Cancelled);
    }).catch((e: unknown) => e);
    expect(started).toBe(false);
    expect(err).toBeInstanceOf(Cancelled);
  });
});

describe('scope: cancellation', () => {
  it('a parent abort cancels the scope, which rejects with Cancelled(parent reason)', async () => {
    const parent = new AbortController();
    const why = new Error('server draining');
    let taskReason: unknown;
    const p = scope(
      async (s) => {
        s.fork(async (signal) => {
          await sleep(10_000, signal).catch((e: unknown) => {
            taskReason = e;
            throw e;
          });
        });
      },
      { signal: parent.signal },
    );
    await delay(5);
    parent.abort(why);
    const err = await p.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cancelled);
    expect((err as Cancelled).reason).toBe(why);
    expect(taskReason).toBe(err);
  });

  it('an already aborted parent gives an aborted signal', async () => {
    const err = await scope(
      async (s) => {
        expect(s.signal.aborted).toBe(true);
      },
      { signal: AbortSignal.abort() },
    ).catch((e: unknown) => e);
    expect(isCancellation(err)).toBe(true);
  });

  it('cancel(reason) aborts the signal with Cancelled and the scope rejects with it', async () => {
    let seen: unknown;
    const err = await scope(async (s) => {
      s.fork(async (signal) => {
        await sleep(10_000, signal).catch((e: unknown) => {
          seen = e;
          throw e;
        });
      });
      await delay(5);
      s.cancel('enough');
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cancelled);
    expect((err as Cancelled).reason).toBe('enough');
    expect(seen).toBe(err);
  });

  it('a scope cancelled before its signal was read still reports it', async () => {
    const parent = new AbortController();
    const gate = deferred();
    const p = scope(
      async () => {
        await gate.promise; // never looks at the signal
        return 'late';
      },
      { signal: parent.signal },
    );
    parent.abort();
    gate.resolve();
    await expect(p).rejects.toBeInstanceOf(Cancelled);
  });
});

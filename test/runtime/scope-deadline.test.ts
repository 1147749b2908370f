import { describe, expect, it } from 'vitest';
import { now, openScope, scope, sleep, TimeoutError, withTimeout } from '../../src/runtime/index.js';
import { delay, failing } from './helpers.js';

describe('scope: deadlines', () => {
  it('when the deadline passes the signal aborts with a TimeoutError and the scope rejects with it', async () => {
    let reason: unknown;
    const t0 = now();
    const err = await scope(
      async (s) => {
        await sleep(10_000, s.signal).catch((e: unknown) => {
          reason = s.signal.reason;
          throw e;
        });
      },
      { timeout: 20 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect(reason).toBe(err);
    expect(now() - t0).toBeGreaterThanOrEqual(15);
    // at the deadline, not when the body's sleep would have ended
    expect(now() - t0).toBeLessThan(10_000 / 2);
  });

  it('a body that ignores its signal and finishes after the deadline is timed out', async () => {
    await expect(
      scope(
        async () => {
          await delay(30);
          return 'too late';
        },
        { timeout: 10 },
      ),
    ).rejects.toBeInstanceOf(TimeoutError);
  });

  it('a real error wins over the deadline', async () => {
    const boom = new Error('boom');
    const err = await scope(
      async (s) => {
        s.fork(failing(30, boom)); // fails for real after the deadline, ignoring it
        await sleep(10_000, s.signal);
      },
      { timeout: 10 },
    ).catch((e: unknown) => e);
    expect(err).toBe(boom);
  });

  it('a TimeoutError from inner withTimeout is a real failure, not the scope deadline', async () => {
    const err = await scope(async (s) => {
      await withTimeout(5, s.signal, (signal) => sleep(10_000, signal));
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
    expect((err as TimeoutError).message).toMatch(/after 5 ms/);
  });

  it('deadline and timeout compose as the minimum', () => {
    const t = now();
    const s = openScope({ deadline: t + 50, timeout: 10_000 });
    expect(s.deadline).toBe(t + 50);
    const s2 = openScope({ deadline: t + 50_000, timeout: 100 });
    expect(s2.deadline).toBeLessThan(t + 200);
    expect(s2.deadline).toBeGreaterThanOrEqual(t + 100);
  });

  it('a child scope inherits the earlier deadline of its parent scope', async () => {
    await scope(
      async (parent) => {
        await scope(
          async (child) => {
            expect(child.deadline).toBe(parent.deadline);
            expect(child.remaining()).toBeLessThanOrEqual(1000);
          },
          { parent, timeout: 60_000 },
        );
      },
      { timeout: 1000 },
    );
  });

  it('a child scope keeps its own earlier deadline under a parent scope', async () => {
    await scope(
      async (parent) => {
        await scope(
          async (child) => {
            expect(child.deadline).toBeLessThan(parent.deadline);
            expect(child.remaining()).toBeLessThanOrEqual(50);
          },
          { parent, timeout: 50 },
        );
      },
      { timeout: 60_000 },
    );
  });

  it("the parent scope's deadline times out the child", async () => {
    const err = await scope(
      async (parent) => {
        await scope(async (child) => sleep(10_000, child.signal), { parent, timeout: 60_000 });
      },
      { timeout: 15 },
    ).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TimeoutError);
  });

  it('remaining() counts down and is Infinity without a deadline', async () => {
    const s = openScope({ timeout: 1000 });
    const r1 = s.remaining();
    expect(r1).toBeLessThanOrEqual(1000);
    expect(r1).toBeGreaterThan(900);
    await delay(20);
    expect(s.remaining()).toBeLessThan(r1);
    await s.close();
    expect(openScope().remaining()).toBe(Infinity);
    expect(openScope().deadline).toBe(Infinity);
    const late = openScope({ timeout: -5 });
    expect(late.remaining()).toBe(0);
    await expect(late.close()).rejects.toBeInstanceOf(TimeoutError);
  });

  it('signal and parent together are refused', () => {
    const parent = openScope();
    expect(() => openScope({ parent, signal: new AbortController().signal })).toThrow(TypeError);
  });

  it('the deadline timer is cleared on close: the signal never aborts afterwards', async () => {
    const s = openScope({ timeout: 20 });
    const signal = s.signal; // arms the timer
    await s.close();
    await delay(40);
    expect(signal.aborted).toBe(false);
  });

  it('the deadline timer does not keep the process alive', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const s = openScope({ timeout: 60_000 });
    void s.signal; // arms the timer
    const during = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    expect(during).toBe(before); // unref()ed timers are not listed
    return s.close();
  });
});

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cancelled, now, sleep } from '../../src/runtime/index.js';

describe('sleep', () => {
  it('resolves after ms and removes its listener', async () => {
    const c = new AbortController();
    const t0 = now();
    await sleep(15, c.signal);
    expect(now() - t0).toBeGreaterThanOrEqual(14);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });

  it("rejects with the signal's reason when aborted", async () => {
    const c = new AbortController();
    const why = new Cancelled('stop');
    const p = sleep(10_000, c.signal);
    c.abort(why);
    await expect(p).rejects.toBe(why);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const why = new Error('already');
    await expect(sleep(10_000, AbortSignal.abort(why))).rejects.toBe(why);
  });

  it('its timer does not keep the process alive', () => {
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const c = new AbortController();
    const p = sleep(60_000, c.signal).catch(() => {});
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    c.abort();
    return p;
  });

  it('Infinity sleeps until aborted', async () => {
    const c = new AbortController();
    const p = sleep(Infinity, c.signal);
    setTimeout(() => c.abort(), 5);
    await expect(p).rejects.toBeDefined();
  });
});

import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cancelled, openScope, RequestScope, sleep, TimeoutError } from '../../src/runtime/index.js';
import { delay } from './helpers.js';

describe('RequestScope (hot path)', () => {
  it('close() resolves when nothing failed', async () => {
    const s = openScope({ timeout: 1000 });
    await expect(s.close()).resolves.toBeUndefined();
  });

  it('does not touch the parent until the signal is read', async () => {
    const server = new AbortController();
    const s = openScope({ signal: server.signal, timeout: 1000 });
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
    void s.signal;
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(1);
    await s.close();
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
  });

  it('fork links to the parent, close unlinks', async () => {
    const server = new AbortController();
    const s = openScope({ signal: server.signal });
    const v = s.fork(async () => 42);
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(1);
    await s.close();
    expect(await v).toBe(42);
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
  });

  it('a parent abort before close cancels a scope whose signal was never read', async () => {
    const server = new AbortController();
    const s = openScope({ signal: server.signal });
    server.abort(new Error('drain'));
    const err = await s.close().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cancelled);
    expect((err as Cancelled).reason).toEqual(new Error('drain'));
  });

  it('a deadline passed before close times out a scope whose signal was never read', async () => {
    const s = openScope({ timeout: 5 });
    await delay(15);
    await expect(s.close()).rejects.toBeInstanceOf(TimeoutError);
  });

  it('cancel() before the signal is read yields an aborted signal', () => {
    const s = openScope();
    s.cancel('x');
    expect(s.signal.aborted).toBe(true);
    expect(s.signal.reason).toBeInstanceOf(Cancelled);
    return s.close().catch(() => {});
  });

  it('fail() records a real failure and cancels the forks', async () => {
    const s = new RequestScope();
    const task = s.fork((signal) => sleep(10_000, signal));
    const boom = new Error('handler threw');
    s.fail(boom);
    await expect(task).rejects.toBeInstanceOf(Cancelled);
    await expect(s.close()).rejects.toBe(boom);
  });

  it('fail() ignores an echo of the scope cancellation', async () => {
    const s = new RequestScope();
    s.cancel();
    s.fail(s.signal.reason);
    const err = await s.close().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Cancelled);
  });

  it('close() is idempotent', async () => {
    const s = openScope();
    s.fork(() => delay(5));
    const a = s.close();
    expect(s.close()).toBe(a);
    await a;
  });

  it('fork after close throws', async () => {
    const s = openScope();
    await s.close();
    expect(() => s.fork(async () => 1)).toThrow(/closed/);
  });

  it('cancel during close cancels the tasks still running', async () => {
    const s = openScope();
    s.fork((signal) => sleep(10_000, signal));
    const closing = s.close();
    s.cancel('client went away');
    await expect(closing).rejects.toBeInstanceOf(Cancelled);
  });

  it('the signal read after close never aborts and is not linked', async () => {
    const server = new AbortController();
    const s = openScope({ signal: server.signal, timeout: 5 });
    await s.close();
    const signal = s.signal;
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
    await delay(15);
    expect(signal.aborted).toBe(false);
  });
});

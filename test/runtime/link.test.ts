import { getEventListeners, once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { Cancelled, link, onCancel, TimeoutError } from '../../src/runtime/index.js';

describe('link', () => {
  it('the child aborts when the parent aborts, with a Cancelled reason', () => {
    const parent = new AbortController();
    const child = link(parent.signal);
    parent.abort('bye');
    expect(child.signal.aborted).toBe(true);
    expect(child.signal.reason).toBeInstanceOf(Cancelled);
    expect((child.signal.reason as Cancelled).reason).toBe('bye');
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it('keeps a Cancelled or TimeoutError reason as the same object', () => {
    const parent = new AbortController();
    const child = link(parent.signal);
    const t = new TimeoutError();
    parent.abort(t);
    expect(child.signal.reason).toBe(t);
  });

  it('uses exactly one listener, which dispose() removes', () => {
    const parent = new AbortController();
    const child = link(parent.signal);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(1);
    child.dispose();
    child.dispose();
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
    parent.abort();
    expect(child.signal.aborted).toBe(false);
  });

  it('abort() aborts the child only, and unlinks it', () => {
    const parent = new AbortController();
    const child = link(parent.signal);
    child.abort();
    expect(child.signal.aborted).toBe(true);
    expect(parent.signal.aborted).toBe(false);
    expect(getEventListeners(parent.signal, 'abort')).toHaveLength(0);
  });

  it('a child of an aborted parent starts aborted; of no parent, never aborts by itself', () => {
    expect(link(AbortSignal.abort()).signal.aborted).toBe(true);
    expect(link(undefined).signal.aborted).toBe(false);
  });
});

describe('onCancel', () => {
  it('fires once with the reason, and the disposer removes it', () => {
    const c = new AbortController();
    const seen: unknown[] = [];
    onCancel(c.signal, (r) => seen.push(r));
    const off = onCancel(c.signal, () => seen.push('removed'));
    off();
    c.abort('why');
    expect(seen).toEqual(['why']);
    expect(getEventListeners(c.signal, 'abort')).toHaveLength(0);
  });

  it('fires at once when already aborted', () => {
    const seen: unknown[] = [];
    onCancel(AbortSignal.abort('done'), (r) => seen.push(r));
    expect(seen).toEqual(['done']);
  });

  it('a callback that throws or rejects does not crash the process: it is reported', async () => {
    const c = new AbortController();
    onCancel(c.signal, async () => {
      throw new Error('async oops');
    });
    const warned = once(process, 'warning');
    c.abort();
    const [warning] = (await warned) as [Error];
    expect((warning.cause as Error).message).toBe('async oops');
    const warned2 = once(process, 'warning');
    onCancel(AbortSignal.abort(), () => {
      throw new Error('sync oops');
    });
    const [warning2] = (await warned2) as [Error];
    expect((warning2.cause as Error).message).toBe('sync oops');
  });
});

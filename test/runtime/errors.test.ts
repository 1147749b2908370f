import { once } from 'node:events';
import { errors as undiciErrors } from 'undici';
import { describe, expect, it } from 'vitest';
import { Cancelled, isCancellation, TimeoutError } from '../../src/runtime/index.js';

describe('errors', () => {
  it('Cancelled carries its code and reason', () => {
    const cause = new Error('client went away');
    const c = new Cancelled(cause);
    expect(c).toBeInstanceOf(Error);
    expect(c.code).toBe('SY_ERR_CANCELLED');
    expect(c.name).toBe('Cancelled');
    expect(c.reason).toBe(cause);
    expect(c.message).toBe('cancelled: client went away');
    expect(new Cancelled().reason).toBeUndefined();
  });

  it('TimeoutError carries its code', () => {
    const t = new TimeoutError();
    expect(t.code).toBe('SY_ERR_TIMEOUT');
    expect(t.name).toBe('TimeoutError');
    expect(t.message).toMatch(/timed out/);
  });

  it('isCancellation recognises Cancelled, every AbortError and the abort codes', async () => {
    const c = new AbortController();
    c.abort();
    expect(isCancellation(new Cancelled())).toBe(true);
    expect(isCancellation(c.signal.reason)).toBe(true); // DOMException AbortError
    const ee = new (await import('node:events')).EventEmitter();
    const aborted = once(ee, 'x', { signal: AbortSignal.abort() }).catch((e: unknown) => e);
    expect(isCancellation(await aborted)).toBe(true); // Node AbortError, code ABORT_ERR
    expect(isCancellation(Object.assign(new Error('x'), { code: 'ABORT_ERR' }))).toBe(true);
    expect(isCancellation(new undiciErrors.RequestAbortedError())).toBe(true);
    expect(isCancellation(Object.assign(new Error('x'), { code: 'UND_ERR_ABORTED' }))).toBe(true);
  });

  it('isCancellation is false for TimeoutError and ordinary failures', () => {
    expect(isCancellation(new TimeoutError())).toBe(false);
    expect(isCancellation(new Error('boom'))).toBe(false);
    expect(isCancellation(Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }))).toBe(false);
    expect(isCancellation(undefined)).toBe(false);
    expect(isCancellation('AbortError')).toBe(false);
  });
});

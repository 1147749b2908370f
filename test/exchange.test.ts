import { describe, expect, it } from 'vitest';
import { syError } from '../src/errors.js';
import { Exchange, type Reply } from '../src/exchange.js';

/** A transport-less exchange: enough to test the transport-neutral parts. */
class MemoryExchange extends Exchange {
  readonly body = { declared: 0, received: 0, limit: 0, async *[Symbol.asyncIterator]() {} };
  sent: Reply[] = [];
  send(reply: Reply) {
    this.sent.push(reply);
    return Promise.resolve();
  }
  close() {}
  protected readAddress() {
    return '10.0.0.1';
  }
}

const make = (headers: string[] = []) => new MemoryExchange('GET', '/x', '', headers);

describe('Exchange', () => {
  it('is a CancelSource: listeners fire once with the first reason, removal works', () => {
    const ex = make();
    const calls: string[] = [];
    const a = { handleEvent: () => calls.push('a') };
    const b = { handleEvent: () => calls.push('b') };
    ex.addEventListener('abort', a);
    ex.addEventListener('abort', b);
    ex.removeEventListener('abort', b);
    expect(ex.aborted).toBe(false);
    const first = syError('SY_ERR_CLIENT_GONE');
    ex.cancel(first);
    ex.cancel(syError('SY_ERR_TIMEOUT'));
    expect(calls).toEqual(['a']);
    expect(ex.aborted).toBe(true);
    expect(ex.reason).toBe(first);
  });

  it('keeps one listener or many: removing the only one, the first or a middle one, in order', () => {
    const ex = make();
    const calls: string[] = [];
    const l = (n: string) => ({ handleEvent: () => calls.push(n) });
    const [a, b, c, d] = [l('a'), l('b'), l('c'), l('d')];
    ex.addEventListener('abort', a);
    ex.removeEventListener('abort', a); // the only one
    ex.removeEventListener('abort', b); // never added
    for (const x of [a, b, c, d]) ex.addEventListener('abort', x);
    ex.removeEventListener('abort', a); // the first of many
    ex.removeEventListener('abort', c); // a middle one
    ex.cancel(syError('SY_ERR_CLIENT_GONE'));
    expect(calls).toEqual(['b', 'd']);
  });

  it('creates its AbortSignal only when asked, already aborted if cancelled before', () => {
    const ex = make();
    const reason = syError('SY_ERR_TIMEOUT');
    ex.cancel(reason);
    expect(ex.signal.aborted).toBe(true);
    expect(ex.signal.reason).toBe(reason);
  });

  it('takes a sane X-Request-Id, makes one otherwise, and keeps it', () => {
    expect(make(['x-request-id', 'abc-1']).id).toBe('abc-1');
    const ex = make(['x-request-id', 'no spaces please']);
    expect(ex.id).toMatch(/^[a-z0-9]+-[a-z0-9]+$/);
    expect(ex.id).toBe(ex.id);
  });

  it('reads the peer address once, on first use', () => {
    expect(make().remoteAddress).toBe('10.0.0.1');
  });
});

/**
 * trusted_proxies: who may speak for the client (the hash key `ip` and X-Forwarded-For).
 */
import { describe, expect, it } from 'vitest';
import type { Exchange } from '../../src/exchange.js';
import { Trust } from '../../src/proxy/trust.js';
import { cookieValue } from '../../src/proxy/upstream.js';

function ex(remoteAddress: string, headers: string[]): Exchange {
  return { remoteAddress, headers } as unknown as Exchange;
}

describe('Trust', () => {
  it('trusts nobody by default', () => {
    const t = new Trust([]);
    expect(t.trusted('127.0.0.1')).toBe(false);
    expect(t.clientAddress(ex('127.0.0.1', ['x-forwarded-for', '1.2.3.4']))).toBe('127.0.0.1');
  });

  it('walks X-Forwarded-For right to left past trusted hops only', () => {
    const chain = ['x-forwarded-for', '203.0.113.9, 10.0.0.1', 'x-forwarded-for', '10.0.0.2'];
    expect(new Trust(['loopback']).clientAddress(ex('127.0.0.1', chain))).toBe('10.0.0.2');
    expect(new Trust(['loopback', '10.0.0.0/8']).clientAddress(ex('127.0.0.1', chain))).toBe('203.0.113.9');
    // an untrusted peer's header is ignored
    expect(new Trust(['10.0.0.0/8']).clientAddress(ex('198.51.100.1', chain))).toBe('198.51.100.1');
    // IPv6 peers, as the engine normalises them
    expect(new Trust(['loopback']).trusted('0:0:0:0:0:0:0:1')).toBe(true);
  });

  it('names the bad entry', () => {
    expect(() => new Trust(['10.0.0.0/33'])).toThrow('trusted_proxies: "10.0.0.0/33"');
  });
});

describe('hash keys', () => {
  it('finds a cookie among several fields', () => {
    const e = ex('1.1.1.1', ['cookie', 'a=1; sid=abc', 'cookie', 'sid2=zzz']);
    expect(cookieValue(e, 'sid')).toBe('abc');
    expect(cookieValue(e, 'sid2')).toBe('zzz');
    expect(cookieValue(e, 'none')).toBeUndefined();
  });
});

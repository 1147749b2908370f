/**
 * The upstream request's fields (src/proxy/request-headers.ts): the peer address is read only when
 * something uses it. With uWS every read is a `getpeername` system call, so a route that sends no
 * X-Forwarded-For and trusts no proxy must not pay it. The end-to-end forwarding rules are in
 * test/proxy/headers.test.ts; this checks which reads the builder makes.
 */
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Exchange } from '../../src/exchange.js';
import { RequestHeaders } from '../../src/proxy/request-headers.js';
import { Trust } from '../../src/proxy/trust.js';
import type { ProxyRouteConfig } from '../../src/tracks/proxy/schema.js';

function route(rules: string): ProxyRouteConfig {
  const text = `
listen: [ { host: 127.0.0.1, port: 0 } ]
upstreams: { origin: { servers: [ { url: "http://127.0.0.1:1" } ] } }
routes:
  - { path: "/*", proxy: origin${rules} }
`;
  return parseConfig(text, '/tmp/request-headers.yaml').config.routes[0] as ProxyRouteConfig;
}

/** An exchange as the builder sees it, counting reads of the peer address. */
function exchange(headers: string[]): { ex: Exchange; reads: () => number } {
  let reads = 0;
  const ex = {
    method: 'GET',
    host: 'example.test',
    id: 'req-1',
    headers,
    proxied: undefined,
    get remoteAddress() {
      reads++;
      return '192.0.2.10';
    },
  };
  return { ex: ex as unknown as Exchange, reads: () => reads };
}

const fields = (out: string[]): Record<string, string> => {
  const o: Record<string, string> = {};
  for (let i = 0; i < out.length; i += 2) o[out[i]!] = out[i + 1]!;
  return o;
};

describe('RequestHeaders: the peer address', () => {
  it('is read for X-Forwarded-For by default', () => {
    const b = new RequestHeaders(route(''), 'routes[0]', new Trust([]));
    const { ex, reads } = exchange(['accept', '*/*']);
    const out = fields(b.build(ex));
    expect(out['x-forwarded-for']).toBe('192.0.2.10');
    expect(reads()).toBe(1);
  });

  it('is not read when X-Forwarded-For is removed and no proxy is trusted', () => {
    const b = new RequestHeaders(
      route(', request_headers: { remove: [x-forwarded-for] }'),
      'routes[0]',
      new Trust([]),
    );
    const { ex, reads } = exchange(['accept', '*/*', 'x-forwarded-for', '6.6.6.6']);
    const out = fields(b.build(ex));
    expect(out['x-forwarded-for']).toBeUndefined();
    expect(out['x-forwarded-proto']).toBe('http');
    expect(out.accept).toBe('*/*');
    expect(reads()).toBe(0);
  });

  it('is read to decide trust when trusted_proxies is set, even without X-Forwarded-For', () => {
    const b = new RequestHeaders(
      route(', request_headers: { remove: [x-forwarded-for] }'),
      'routes[0]',
      new Trust(['192.0.2.0/24']),
    );
    const { ex, reads } = exchange(['x-forwarded-proto', 'https', 'x-forwarded-host', 'front.test']);
    const out = fields(b.build(ex));
    // a trusted peer's Proto and Host pass
    expect(out['x-forwarded-proto']).toBe('https');
    expect(out['x-forwarded-host']).toBe('front.test');
    expect(reads()).toBe(1);
  });
});

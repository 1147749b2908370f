/**
 * Proxy settings the schema checks, so `switchyard check` reports them like nginx -t rather than
 * the server failing at start.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, '/tmp/x.yaml');
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

const UP = 'upstreams: { app: { servers: [{ url: "http://127.0.0.1:1" }] } }\n';

describe('proxy config checks', () => {
  it('trusted_proxies: proxy-addr syntax', () => {
    expect(problems(`trusted_proxies: [loopback, 10.0.0.0/8, "::1", 192.168.1.7]\n`)).toEqual([]);
    expect(problems(`trusted_proxies: [10.0.0.0/33, nonsense]\n`)).toEqual([
      'trusted_proxies[0]: invalid range on address: 10.0.0.0/33',
      'trusted_proxies[1]: invalid IP address: nonsense',
    ]);
  });

  it('header rules cannot touch fields the proxy owns', () => {
    const p = problems(
      `${UP}routes:\n  - { path: "/a/*", proxy: app, request_headers: { set: { Content-Length: "1" }, remove: [connection] }, response_headers: { add: { transfer-encoding: chunked } } }\n`,
    );
    expect(p).toEqual([
      'routes[0].request_headers.set: "Content-Length" is managed by the proxy',
      'routes[0].request_headers.remove: "connection" is managed by the proxy',
      'routes[0].response_headers.add: "transfer-encoding" is managed by the proxy',
    ]);
  });

  it('server urls are origins only', () => {
    expect(problems('upstreams: { a: { servers: [{ url: "http://10.0.0.1:8080/" }] } }\n')).toEqual([]);
    expect(problems('upstreams: { a: { servers: [{ url: "http://10.0.0.1:8080/base" }] } }\n')).toEqual([
      'upstreams.a.servers[0].url: expected scheme://host:port only (for a path, use add_prefix on the route)',
    ]);
  });

  it('host_header: pass, upstream, or a host[:port] without spaces or controls', () => {
    expect(problems(`${UP}routes: [{ path: "/a", proxy: app, host_header: "api.internal:8443" }]\n`)).toEqual(
      [],
    );
    expect(problems(`${UP}routes: [{ path: "/a", proxy: app, host_header: "bad host" }]\n`)).toEqual([
      'routes[0].host_header: expected pass, upstream, or a host[:port]',
    ]);
  });
});

/**
 * PROXY protocol (`proxy_protocol: true` on a listener): a v2 header from a trusted peer gives the
 * client's address to the access log and X-Forwarded-For; without a header, or from a peer not in
 * trusted_proxies, the request is refused (400, closed). On other listeners a v2 header is never
 * believed. v1, which this uWS build cannot parse, is refused at config time.
 */

import { createServer, type IncomingHttpHeaders } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { type Engine, uwsAvailable } from '../helpers/engines.js';
import { exchange, GET, v2 } from '../helpers/proxy-protocol.js';
import { startServer, type TestServer } from '../helpers/server.js';

let s: TestServer | undefined;
afterEach(async () => {
  await s?.close();
  s = undefined;
});

async function serverWith(trusted: string, upstreamPort: number, engine: Engine): Promise<TestServer> {
  return startServer(`
listen: [{ host: 127.0.0.1, port: 0, engine: ${engine}, proxy_protocol: true }]
trusted_proxies: [${trusted}]
upstreams:
  up: { servers: [{ url: "http://127.0.0.1:${upstreamPort}" }] }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: "/up/*", proxy: up }
`);
}

const engines: Engine[] = uwsAvailable() ? ['uws', 'node'] : ['node'];

describe.each(engines)('PROXY protocol listener (%s)', (engine) => {
  it('a v2 header from a trusted peer: client in the log and X-Forwarded-For, peer stays the balancer', async () => {
    const seen: IncomingHttpHeaders[] = [];
    const up = createServer((req, res) => {
      seen.push(req.headers);
      res.end('up');
    });
    await new Promise<void>((r) => up.listen(0, '127.0.0.1', r));
    try {
      s = await serverWith('loopback', (up.address() as { port: number }).port, engine);
      const r = await exchange(s.port, Buffer.concat([v2('203.0.113.7'), GET('/up/x')]));
      expect(r.text).toMatch(/^HTTP\/1\.1 200/);
      expect(seen[0]!['x-forwarded-for']).toBe('203.0.113.7');
      await new Promise((t) => setTimeout(t, 50));
      expect(s.access.at(-1)).toMatchObject({ client: '203.0.113.7', peer: '127.0.0.1', status: 200 });
    } finally {
      await new Promise((r) => up.close(r));
    }
  });

  it('no header: refused with 400 and closed', async () => {
    s = await serverWith('loopback', 1, engine);
    const r = await exchange(s.port, GET('/a'));
    expect(r.text).toMatch(/^HTTP\/1\.1 400/);
    expect(r.text).toMatch(/PROXY protocol/);
    expect(r.closed).toBe(true);
  });

  it('a header from a peer not in trusted_proxies: refused, never believed', async () => {
    s = await serverWith('10.0.0.0/8', 1, engine);
    const r = await exchange(s.port, Buffer.concat([v2('203.0.113.7'), GET('/a')]));
    expect(r.text).toMatch(/^HTTP\/1\.1 400/);
    await new Promise((t) => setTimeout(t, 50));
    expect(s.access.at(-1)).toMatchObject({ client: '127.0.0.1', status: 400, err: 'SY_ERR_PROXY_PROTOCOL' });
  });
});

describe('elsewhere', () => {
  it.skipIf(!uwsAvailable())('a uws listener without proxy_protocol never believes a v2 header', async () => {
    s = await startServer(`
listen: [{ host: 127.0.0.1, port: 0, engine: uws }]
trusted_proxies: [loopback]
routes: [{ path: /a, respond: { body: "a" } }]
`);
    const r = await exchange(s.port, Buffer.concat([v2('203.0.113.7'), GET('/a')]));
    expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    await new Promise((t) => setTimeout(t, 50));
    expect(s.access.at(-1)).toMatchObject({ client: '127.0.0.1', peer: '127.0.0.1' });
  });

  it('config: v1 and a listener without trusted_proxies are refused, naming the path', () => {
    const problems = (yaml: string) => {
      try {
        parseConfig(yaml, '/tmp/pp.yaml');
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems('listen: [{ port: 1, proxy_protocol: v1 }]\ntrusted_proxies: [loopback]')).toEqual([
      expect.stringMatching(
        /^listen\[0\]\.proxy_protocol: PROXY protocol v1 is not parsed by the uWS engine .*set engine: node on this listener, or send v2 \(HAProxy: send-proxy-v2\)$/,
      ),
    ]);
    expect(
      problems('listen: [{ port: 1, engine: node, proxy_protocol: v1 }]\ntrusted_proxies: [loopback]'),
    ).toEqual([]);
    expect(
      problems(
        'listen: [{ port: 1, engine: node, h2c: true, proxy_protocol: true }]\ntrusted_proxies: [loopback]',
      ),
    ).toEqual([expect.stringMatching(/^listen\[0\]\.proxy_protocol: not with h2c/)]);
    expect(
      problems(
        'listen: [{ port: 1, proxy_protocol: true, tls: { cert: /nonexistent/c.pem, key: /nonexistent/k.pem } }]\ntrusted_proxies: [loopback]',
      ),
    ).toContainEqual(expect.stringMatching(/^listen\[0\]\.proxy_protocol: with tls, set engine: node/));
    expect(problems('listen: [{ port: 1, proxy_protocol: true }]')).toEqual([
      'listen[0].proxy_protocol: needs trusted_proxies: the balancers whose PROXY header is believed',
    ]);
    expect(problems('listen: [{ port: 1, engine: node, proxy_protocol: v1 }]')).toEqual([
      'listen[0].proxy_protocol: needs trusted_proxies: the balancers whose PROXY header is believed',
    ]);
    expect(
      problems('threads: 2\nlisten: [{ port: 1, proxy_protocol: true }]\ntrusted_proxies: [loopback]'),
    ).toEqual([]);
    expect(ConfigError).toBeDefined();
  });
});

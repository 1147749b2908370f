/**
 * PROXY protocol with acceptor threads (`threads: 2`, the built CLI, uWS: v2): every thread reads
 * the header and believes it only from trusted_proxies, so the client in the access log is the
 * header's source on whichever thread the kernel picked; a request without a header is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { uwsAvailable } from '../helpers/engines.js';
import { exchange, v2 } from '../helpers/proxy-protocol.js';
import { until } from '../helpers/wait.js';

let cli: StartedCli;

describe.skipIf(!uwsAvailable())('proxy_protocol with threads: 2', () => {
  beforeAll(async () => {
    cli = await startCli(`threads: 2
listen: [{ host: 127.0.0.1, port: 0, engine: uws, proxy_protocol: true }]
trusted_proxies: [loopback]
log: { level: info, access: stdout, error: stderr }
routes:
  - { path: /a, respond: { body: "a" } }
`);
  });
  afterAll(() => cli?.stop());

  it('each thread believes the header of a trusted peer, and refuses a request without one', async () => {
    for (let i = 1; i <= 20; i++) {
      const r = await exchange(
        cli.port,
        Buffer.concat([
          v2(`203.0.113.${i}`),
          Buffer.from(`GET /a?i=${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`),
        ]),
      );
      expect(r.text).toMatch(/^HTTP\/1\.1 200/);
    }
    const none = await exchange(cli.port, Buffer.from('GET /a?i=none HTTP/1.1\r\nHost: x\r\n\r\n'));
    expect(none.text).toMatch(/^HTTP\/1\.1 400/);
    await until(() => cli.accessLog().filter((l) => l.path === '/a').length === 21, 'every access line');
    const lines = cli.accessLog().filter((l) => l.path === '/a');
    for (const l of lines.filter((x) => x.query !== 'i=none')) {
      expect(l.client).toBe(`203.0.113.${String(l.query).slice(2)}`);
      expect(l.peer).toBe('127.0.0.1');
    }
    expect(new Set(lines.map((l) => l.thread)).size).toBe(2);
    expect(lines.find((l) => l.query === 'i=none')).toMatchObject({
      status: 400,
      err: 'SY_ERR_PROXY_PROTOCOL',
    });
  });
});

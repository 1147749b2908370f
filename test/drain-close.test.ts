/**
 * Drain through the built CLI: a response to a request that was already in flight at SIGTERM says
 * `Connection: close` (the README's promise), so a keep-alive client does not reuse a connection
 * that is about to vanish.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { startCli } from './helpers/cli.js';
import { keepAliveField } from './helpers/engines.js';
import { RawClient, values, type WireResponse } from './helpers/raw-client.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');

describe('drain', () => {
  it('requests in flight at SIGTERM are answered with Connection: close, then the connection closes', async () => {
    const c = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nlog: { access: off }\nroutes_dir: ${fixtures}\nshutdown: { grace: 10s }\nroutes:\n  - { path: /sleep, handler: sleep }\n  - { path: /gate, handler: gate }\n`,
    );
    try {
      const client = await RawClient.connect(c.ports[0]!);
      // a keep-alive exchange first: no Connection: close before the drain
      client.write('GET /sleep?ms=0 HTTP/1.1\r\nHost: a\r\n\r\n');
      const first = (await client.next(10_000)) as WireResponse;
      expect(first.status).toBe(200);
      expect(values(first, 'connection')).toEqual(keepAliveField());
      // then one in flight when the signal comes: the handler has it and waits for its body
      client.write('POST /gate HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n');
      await c.waitFor(/at the gate/);
      c.kill('SIGTERM');
      await c.waitFor(/draining/);
      client.write('ok');
      const second = (await client.next(10_000)) as WireResponse;
      expect(second.status).toBe(200);
      expect(values(second, 'connection')).toEqual(['close']);
      expect(await client.closedWithin(5_000)).toBe(true);
      expect(await c.exited).toBe(0);
    } finally {
      c.kill('SIGKILL');
    }
  });
});

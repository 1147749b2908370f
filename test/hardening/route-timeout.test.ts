/**
 * A handler that ignores its signal cannot be stopped (JavaScript has no way to kill a promise),
 * but it cannot run past its route's timeout as far as anyone can see: the client gets 504 at the
 * deadline, nothing the handler returns later is written, the connection stays usable, and the
 * request's access-log line (written when the handler finally returns) says 504 SY_ERR_TIMEOUT.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HANDLERS } from '../helpers/paths.js';
import { parseResponse } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

declare global {
  var __syStubborn: { started: number; finished: number; abortedSeen: number } | undefined;
}

describe('a handler that ignores its signal', () => {
  let s: TestServer;
  beforeAll(async () => {
    s = await startServer(`
routes_dir: ${HANDLERS}
routes:
  - { path: /stubborn, handler: stubborn, timeout: 200ms, queue: 1 }
  - { path: /hello, respond: { body: "hello\\n" } }
`);
  });
  afterAll(() => s.close());

  it('504 at the deadline; its late reply is never written; the connection serves the next request', async () => {
    globalThis.__syStubborn = undefined;
    const sock = net.connect(s.port, '127.0.0.1');
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      text += d;
    });
    await new Promise((r) => sock.once('connect', r));
    const t0 = performance.now();
    sock.write('GET /stubborn?ms=1000 HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.includes('\r\n\r\n') && parseResponse(text).rest === '' && text, 'the 504');
    const at = performance.now() - t0;
    const first = parseResponse(text);
    expect(first.status).toBe(504);
    expect(first.body).toContain('SY_ERR_TIMEOUT');
    // at the deadline, not when the handler returns (it has not: `finished: 0`)
    expect(at).toBeGreaterThan(190);
    expect(globalThis.__syStubborn).toMatchObject({ started: 1, finished: 0 });

    // the same connection, while the handler is still running
    text = '';
    sock.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.includes('hello\n'), 'the next response');
    expect(parseResponse(text)).toMatchObject({ status: 200, body: 'hello\n', rest: '' });

    // the route's one queue slot is still taken by the stubborn handler (it has not returned)
    const busy = await fetch(`${s.url}/stubborn?ms=0`);
    expect(busy.status).toBe(503);

    // the handler returns after 1 s: it saw the abort, and nothing more reaches the client
    text = '';
    await until(() => globalThis.__syStubborn?.finished === 1, 'the handler to return');
    // a late reply would come before the answer to a next request on the same connection
    sock.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n');
    await until(() => text.includes('hello\n'), 'the response after the handler returned');
    expect(parseResponse(text)).toMatchObject({ status: 200, body: 'hello\n', rest: '' });
    expect(sock.destroyed).toBe(false);
    expect(globalThis.__syStubborn).toMatchObject({ started: 1, finished: 1, abortedSeen: 1 });
    const line = await until(() => s.access.find((l) => l.path === '/stubborn' && l.status === 504));
    expect(line).toMatchObject({ status: 504, err: 'SY_ERR_TIMEOUT' });
    // logged when the handler returned, so `ms` shows how long it really ran
    expect(line.ms as number).toBeGreaterThan(950);
    sock.destroy();
    console.log(
      `stubborn handler: 504 after ${at.toFixed(0)} ms (timeout 200 ms); handler returned after ` +
        `${(line.ms as number).toFixed(0)} ms, its reply dropped`,
    );

    // once it has returned, the slot is free again
    const again = await fetch(`${s.url}/stubborn?ms=0`);
    expect(again.status).toBe(200);
  });
});

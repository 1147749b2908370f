/**
 * In-process WebSocket routes (the websocket track) over real sockets: the module's lifecycle and
 * its connection scope (cancelled and awaited on close), refusal in `upgrade`, subprotocol
 * choice, the message-size and idle limits, a failing handler closing only its connection, and
 * pub/sub order within a thread.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

let s: TestServer;
const g = globalThis as { __wsEvents?: string[] };

function connect(path: string, protocols: string[] = [], headers: Record<string, string> = {}) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, protocols, { headers });
  const messages: string[] = [];
  ws.on('message', (d: Buffer, binary) => messages.push(binary ? `bin:${d.toString('hex')}` : d.toString()));
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })),
  );
  const opened = new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  return { ws, messages, closed, opened };
}

function refused(path: string, protocols: string[] = []): Promise<number> {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}${path}`, protocols);
  return new Promise((resolve, reject) => {
    ws.once('unexpected-response', (_req, res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
      ws.terminate();
    });
    ws.once('open', () => reject(new Error('accepted')));
    ws.once('error', reject);
  });
}

beforeAll(async () => {
  s = await startServer(`
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
routes:
  - { path: /ws, websocket: ws-echo }
  - { path: /small, websocket: ws-echo, max_message: 1KiB }
  - { path: /idle, websocket: ws-echo, idle: 150ms }
  - { path: /proto, websocket: ws-echo, protocols: [game.v2, game.v1] }
`);
});
afterAll(() => s.close());
beforeEach(() => {
  g.__wsEvents = [];
});

describe('websocket routes', () => {
  it('runs open/message/close with what upgrade saw, and cancels and awaits the scope on close', async () => {
    const c = connect('/ws?who=al');
    await c.opened;
    c.ws.send('ping');
    c.ws.send(Buffer.from([1, 2, 3]));
    await until(() => c.messages.length === 3, undefined, 'greeting and echoes');
    expect(c.messages).toEqual(['hello al from 127.0.0.1', 'ping', 'bin:010203']);
    c.ws.close(4000, 'bye');
    expect(await c.closed).toEqual({ code: 4000, reason: 'bye' });
    await until(() => g.__wsEvents!.length === 3, undefined, 'close events');
    expect([...g.__wsEvents!].sort()).toEqual(['close:al:4000:bye', 'fork-cancelled:al', 'open:al']);
  });

  it('lets upgrade refuse before the handshake, and answers plain HTTP with 426', async () => {
    expect(await refused('/ws?deny=401')).toBe(401);
    expect(await refused('/ws?need-cookie')).toBe(403);
    const ok = connect('/ws?need-cookie&who=c', [], { cookie: 'session=ok' });
    await ok.opened;
    ok.ws.close();
    await ok.closed;
    const plain = await fetch(`${s.url}/ws`);
    expect(plain.status).toBe(426);
    await plain.text();
    expect(g.__wsEvents!.filter((e) => e.startsWith('open:'))).toEqual(['open:c']);
  });

  it('chooses the route’s preferred subprotocol among those offered, and refuses none in common', async () => {
    const c = connect('/proto?who=p', ['game.v1', 'game.v2']);
    await c.opened;
    expect(c.ws.protocol).toBe('game.v2');
    await until(() => c.messages.length === 1);
    expect(c.messages[0]).toBe('hello p from 127.0.0.1 speaking game.v2');
    c.ws.close();
    await c.closed;
    expect(await refused('/proto', ['chat'])).toBe(400);
  });

  it('closes with 1009 on a message over max_message, without passing it on', async () => {
    const c = connect('/small?who=big');
    await c.opened;
    c.ws.send('x'.repeat(1024));
    c.ws.send('y'.repeat(1025));
    expect((await c.closed).code).toBe(1009);
    expect(c.messages).toEqual(['hello big from 127.0.0.1', 'x'.repeat(1024)]);
  });

  it('closes an idle connection with 1001, and its scope is cancelled', async () => {
    const c = connect('/idle?who=i');
    await c.opened;
    expect(await c.closed).toEqual({ code: 1001, reason: 'idle timeout' });
    await until(() => g.__wsEvents!.includes('fork-cancelled:i'));
  });

  it('closes only the connection whose handler threw, with 1011', async () => {
    const a = connect('/ws?who=a');
    const b = connect('/ws?who=b');
    await Promise.all([a.opened, b.opened]);
    a.ws.send('throw');
    expect((await a.closed).code).toBe(1011);
    b.ws.send('still here');
    await until(() => b.messages.includes('still here'));
    b.ws.close();
    await b.closed;
  });

  it('upgrade() returning a string is refused as a bad reply (500), not accepted with no data', async () => {
    expect(await refused('/ws?ret=string')).toBe(500);
    await until(() => JSON.stringify(s.errors).includes('upgrade() returned a string'));
  });

  it('ws.close with a code no close frame may carry throws (→ 1011), a valid one is sent as is', async () => {
    const bad = connect('/ws?who=bad');
    const good = connect('/ws?who=good');
    await Promise.all([bad.opened, good.opened]);
    bad.ws.send('close:99999');
    expect(await bad.closed).toEqual({ code: 1011, reason: 'handler error' });
    good.ws.send('close:4000');
    expect(await good.closed).toEqual({ code: 4000, reason: 'bye' });
    await until(() => s.errors.find((l) => JSON.stringify(l).includes('close code 99999 may not be sent')));
  });

  it('delivers one publisher’s messages to every subscriber in order', async () => {
    const subs = [connect('/ws?who=s1'), connect('/ws?who=s2'), connect('/ws?who=s3')];
    await Promise.all(subs.map((c) => c.opened));
    for (const c of subs) c.ws.send('sub:room');
    await until(() => subs.every((c) => c.messages.includes('subscribed')));
    subs[0]!.ws.send('pub:room:500');
    const expected = Array.from({ length: 500 }, (_, i) => `room#${i}`);
    for (const c of subs) {
      await until(() => c.messages.filter((m) => m.startsWith('room#')).length === 500);
      expect(c.messages.filter((m) => m.startsWith('room#'))).toEqual(expected);
    }
    for (const c of subs) c.ws.close();
    await Promise.all(subs.map((c) => c.closed));
  });
});

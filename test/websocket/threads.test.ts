/**
 * Pub/sub across acceptor threads, through the built CLI with `threads: 2`: subscribers end up on
 * both threads (the kernel spreads connections with SO_REUSEPORT; we open until both have some),
 * and a publish — from a WebSocket handler and from an HTTP handler (ctx.publish) — reaches all of
 * them, one publisher's messages in order.
 */
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, startCli } from '../helpers/cli.js';
import { until } from '../helpers/wait.js';

const handlers = join(packageRoot, 'test', 'fixtures', 'handlers');
let cli: (Cli & { ports: number[] }) | undefined;
const sockets: WebSocket[] = [];

afterEach(async () => {
  for (const ws of sockets.splice(0)) ws.terminate();
  if (cli !== undefined && cli.child.exitCode === null) {
    cli.kill('SIGKILL');
    await cli.exited;
  }
  cli = undefined;
});

interface Sub {
  ws: WebSocket;
  messages: string[];
  thread: string;
}

async function subscriber(port: number, topic: string): Promise<Sub> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
  sockets.push(ws);
  const messages: string[] = [];
  ws.on('message', (d: Buffer) => messages.push(d.toString()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.send('thread');
  ws.send(`sub:${topic}`);
  await until(() => messages.includes('subscribed'), undefined, 'subscribed');
  const thread = messages.find((m) => m.startsWith('thread:'))!;
  return { ws, messages, thread };
}

describe('pub/sub across acceptor threads', () => {
  it('a publish from a WebSocket or an HTTP handler reaches subscribers on every thread, in order', async () => {
    cli = await startCli(
      `threads: 2\nlisten:\n  - { host: 127.0.0.1, port: 0 }\nroutes_dir: ${handlers}\nroutes:\n  - { path: /ws, websocket: ws-echo }\n  - { path: /publish, handler: publish }\n`,
    );
    const port = cli.ports[0]!;
    const subs: Sub[] = [];
    for (let i = 0; i < 64 && new Set(subs.map((s) => s.thread)).size < 2; i++)
      subs.push(await subscriber(port, 'room'));
    expect(new Set(subs.map((s) => s.thread)).size).toBe(2);

    const expected = (n: number) => Array.from({ length: n }, (_, i) => `room#${i}`);
    const got = (s: Sub) => s.messages.filter((m) => m.startsWith('room#'));
    subs[0]!.ws.send('pub:room:300');
    for (const s of subs) await until(() => got(s).length === 300, undefined, 'the websocket publishes');
    for (const s of subs) expect(got(s)).toEqual(expected(300));

    for (const s of subs) s.messages.length = 0;
    const r = await fetch(`http://127.0.0.1:${port}/publish?topic=room&n=200`);
    expect(r.status).toBe(200);
    await r.text();
    for (const s of subs) await until(() => got(s).length === 200, undefined, 'the HTTP publishes');
    for (const s of subs) expect(got(s)).toEqual(expected(200));
  });
});

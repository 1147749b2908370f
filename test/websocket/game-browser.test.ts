/**
 * The game room in a real browser (Debian's chromium, headless, driven by playwright-core)
 * against the built CLI: two pages load /game, a move made in one appears in the other; then the
 * same through a proxy route whose upstream is a separate `ws` origin speaking the game protocol.
 */
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { openBrowser, type TestBrowser } from '../helpers/browser.js';
import { type Cli, startCli } from '../helpers/cli.js';

interface Seen {
  id: string;
  name: string;
  x: number;
  y: number;
}

let cli: (Cli & { ports: number[] }) | undefined;
let browser: TestBrowser | undefined;
let origin: WebSocketServer;

/** A minimal origin for the proxied page: the same protocol, one shard, state on every change. */
function startOrigin(): Promise<WebSocketServer> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  const players = new Map<WebSocket, Seen & { color: string }>();
  let n = 0;
  let tick = 0;
  const broadcast = () => {
    const msg = JSON.stringify({
      type: 'state',
      shard: 'origin',
      tick: ++tick,
      players: [...players.values()],
    });
    for (const c of players.keys()) c.send(msg);
  };
  wss.on('connection', (ws, req) => {
    const name = new URL(req.url!, 'http://x').searchParams.get('name') ?? 'p';
    const p = { id: `o-${n++}`, name, x: 10, y: 10, color: '#000' };
    players.set(ws, p);
    ws.send(JSON.stringify({ type: 'hello', id: p.id, shard: 'origin', w: 32, h: 24 }));
    broadcast();
    const keep = setInterval(broadcast, 200); // the page forgets shards silent for a second
    ws.on('message', (d) => {
      const m = JSON.parse(d.toString()) as { dx: number; dy: number };
      p.x += m.dx;
      p.y += m.dy;
      broadcast();
    });
    ws.on('close', () => {
      clearInterval(keep);
      players.delete(ws);
    });
  });
  return new Promise((r) => wss.once('listening', () => r(wss)));
}

beforeAll(async () => {
  origin = await startOrigin();
  const originPort = (origin.address() as AddressInfo).port;
  cli = await startCli(
    `routes_dir: ${join(packageRoot, 'dist', 'routes')}
upstreams:
  origin: { servers: [{ url: "http://127.0.0.1:${originPort}" }] }
routes:
  - { path: /game, handler: game-page }
  - { path: /game/ws, websocket: game, max_message: 256 }
  - { path: "/far/*", proxy: origin, strip_prefix: /far }
`,
  );
  browser = await openBrowser();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  if (cli !== undefined && cli.child.exitCode === null) {
    cli.kill('SIGTERM');
    await cli.exited;
  }
  for (const c of origin.clients) c.terminate();
  await new Promise((r) => origin.close(r));
});

const players = (page: Page) =>
  page.evaluate(() => (globalThis as unknown as { game: { players(): Seen[] } }).game.players());
const me = (page: Page) => page.evaluate(() => (globalThis as unknown as { game: { me: string } }).game.me);

/** Poll in the page until `fn` holds for what it sees. */
async function seesThat(page: Page, fn: (ps: Seen[]) => boolean, what: string): Promise<Seen[]> {
  for (let i = 0; i < 1000; i++) {
    const ps = await players(page);
    if (fn(ps)) return ps;
    await page.waitForTimeout(20);
  }
  throw new Error(`page never saw ${what}`);
}

async function moveSeenByOther(query: string): Promise<void> {
  const base = `http://127.0.0.1:${cli!.ports[0]}/game`;
  const a = await browser!.context.newPage();
  const b = await browser!.context.newPage();
  try {
    await a.goto(`${base}?name=alice${query}`);
    await b.goto(`${base}?name=bob${query}`);
    await seesThat(a, (ps) => ps.some((p) => p.name === 'alice'), 'itself');
    const aliceId = await me(a);
    expect(aliceId).not.toBe('');
    await seesThat(
      b,
      (ps) => ps.some((p) => p.name === 'alice') && ps.some((p) => p.name === 'bob'),
      'both players',
    );
    const before = (await players(b)).find((p) => p.id === aliceId)!;
    const key = before.x < 31 ? 'ArrowRight' : 'ArrowLeft';
    const want = before.x < 31 ? before.x + 1 : before.x - 1;
    await a.keyboard.press(key);
    const after = await seesThat(
      b,
      (ps) => ps.some((p) => p.id === aliceId && p.x === want),
      `alice move to x=${want}`,
    );
    expect(after.find((p) => p.id === aliceId)!.y).toBe(before.y);
  } finally {
    await a.close();
    await b.close();
  }
}

describe('the game room in Chromium', () => {
  it('a move made in one page appears in the other', async () => {
    await moveSeenByOther('');
  });

  it('the same through a proxy route to an origin WebSocket server', async () => {
    await moveSeenByOther('&ws=/far/room');
  });
});

/**
 * The game rooms (routes/game.ts, as built): a malformed, out-of-range, binary or oversized message
 * closes that player's connection with a code, and the other player's connection and its state
 * stream go on; bad names and rooms are refused before the handshake; rooms are kept apart.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { packageRoot } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/wait.js';

let s: TestServer;

beforeAll(async () => {
  s = await startServer(`
routes_dir: ${join(packageRoot, 'dist', 'routes')}
routes:
  - { path: /game/ws, websocket: game, max_message: 256 }
`);
});
afterAll(() => s.close());

function player(name: string, room?: string) {
  const ws = new WebSocket(`ws://127.0.0.1:${s.port}/game/ws?name=${name}${room ? `&room=${room}` : ''}`);
  const states: { players: { name: string }[] }[] = [];
  ws.on('message', (d: Buffer) => {
    const m = JSON.parse(d.toString()) as { type: string; players: { name: string }[] };
    if (m.type === 'state') states.push(m);
  });
  const closed = new Promise<number>((r) => ws.once('close', (code) => r(code)));
  const opened = new Promise<void>((r, j) => {
    ws.once('open', () => r());
    ws.once('error', j);
  });
  return { ws, states, closed, opened };
}

describe('game rooms', () => {
  it.each([
    ['malformed JSON', '{"dx":', 1008],
    ['out of range', '{"dx":5,"dy":0}', 1008],
    ['extra keys', '{"dx":1,"dy":0,"x":3}', 1008],
    ['binary', Buffer.from([1, 2]), 1003],
    ['oversized', `{"dx":1,"dy":0,"pad":"${'x'.repeat(300)}"}`, 1009],
  ])('%s closes that connection only (code %#)', async (_what, msg, code) => {
    const good = player('good');
    const bad = player('bad');
    await Promise.all([good.opened, bad.opened]);
    await until(() => good.states.some((st) => st.players.some((p) => p.name === 'bad')));
    bad.ws.send(msg);
    expect(await bad.closed).toBe(code);
    good.ws.send('{"dx":1,"dy":0}');
    const seen = good.states.length;
    await until(() => good.states.length > seen + 2, undefined, 'more ticks');
    expect(good.ws.readyState).toBe(WebSocket.OPEN);
    await until(() => good.states.at(-1)!.players.every((p) => p.name !== 'bad'), undefined, 'bad gone');
    good.ws.close();
    await good.closed;
  });

  it.each([
    ['name', `name=${'x'.repeat(40)}`],
    ['room', 'name=ok&room=no%2Fslash'],
  ])('refuses a bad %s before the handshake', async (_what, query) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/game/ws?${query}`);
    const status = await new Promise<number>((r, j) => {
      ws.once('unexpected-response', (_q, res) => {
        r(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.once('error', j);
    });
    expect(status).toBe(400);
  });

  it('keeps rooms apart: a player sees the players of its own room only', async () => {
    const a = player('ann', 'red');
    const b = player('ben', 'red');
    const c = player('cat', 'blue');
    await Promise.all([a.opened, b.opened, c.opened]);
    await until(
      () => a.states.some((st) => st.players.some((p) => p.name === 'ben')),
      undefined,
      'ann sees ben',
    );
    await until(() => c.states.length > 3, undefined, 'ticks in blue');
    for (const st of c.states) expect(st.players.map((p) => p.name)).toEqual(['cat']);
    for (const st of a.states) expect(st.players.map((p) => p.name)).not.toContain('cat');
    for (const p of [a, b, c]) p.ws.close();
    await Promise.all([a.closed, b.closed, c.closed]);
  });
});

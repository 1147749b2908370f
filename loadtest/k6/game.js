// @ts-check
/**
 * The game room over WebSockets (routes/game.ts): each virtual user is a player who joins
 * `/game/ws`, moves every MOVE_MS and leaves after SESSION_MS with a normal close, then joins
 * again. It checks the handshake (101), the greeting, that the room's state arrives and shows the
 * player, and the close; it measures the gap between two state messages (the room ticks at 20 Hz,
 * so 50 ms on a machine that keeps up; with acceptor threads each thread's shard is a message, so
 * gaps are shorter).
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 loadtest/k6/game.js
 *
 * Options (-e NAME=value): VUS (default 50 players), ROOMS (1: everyone in the lobby; N: players
 * spread over rooms r0 … rN-1), DURATION (1m), SESSION_MS (10000), MOVE_MS (100), WS_PATH
 * (/game/ws). The bench's figure, 1,000 players in 10 rooms: -e VUS=1000 -e ROOMS=10.
 */
import { check } from 'k6';
import { Counter, Trend } from 'k6/metrics';
import ws from 'k6/ws';
import { BASE_URL, DURATION, envNumber } from './lib.js';

const WS_PATH = __ENV.WS_PATH || '/game/ws';
const ROOMS = envNumber('ROOMS', 1);
const SESSION_MS = envNumber('SESSION_MS', 10_000);
const MOVE_MS = envNumber('MOVE_MS', 100);

/** ms between two state messages seen by one player */
const stateGap = new Trend('game_state_gap', true);
const states = new Counter('game_states');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    players: { executor: 'constant-vus', vus: envNumber('VUS', 50), duration: DURATION, exec: 'play' },
  },
  thresholds: {
    checks: ['rate>0.99'],
    ws_connecting: ['p(95)<500'],
    game_state_gap: ['p(99)<150'],
    game_states: ['count>0'],
  },
};

/** -1, 0 or 1 */
const step = () => Math.floor(Math.random() * 3) - 1;

export function play() {
  const room = ROOMS > 1 ? `&room=r${__VU % ROOMS}` : '';
  const url = `${BASE_URL.replace(/^http/, 'ws')}${WS_PATH}?name=k6-${__VU}${room}`;
  let id = '';
  let seen = 0;
  let self = false;
  let last = 0;
  let closedWith = 0;
  const res = ws.connect(url, null, (socket) => {
    socket.on('open', () => {
      socket.setInterval(() => socket.send(JSON.stringify({ dx: step(), dy: step() })), MOVE_MS);
      socket.setTimeout(() => socket.close(1000), SESSION_MS);
    });
    socket.on('message', (data) => {
      const m = JSON.parse(data);
      if (m.type === 'hello') id = m.id;
      else if (m.type === 'state') {
        const now = Date.now();
        if (last !== 0) stateGap.add(now - last);
        last = now;
        seen++;
        states.add(1);
        if (!self) self = m.players.some((/** @type {{ id: string }} */ p) => p.id === id);
      }
    });
    socket.on('close', (code) => {
      closedWith = code;
    });
  });
  check(res, { 'game: handshake answered 101': (r) => r !== null && r.status === 101 });
  check(null, {
    'game: greeted with a player id': () => id !== '',
    'game: the room state arrives': () => seen > 0,
    'game: the state shows this player': () => self,
    'game: closed normally (1000)': () => closedWith === 1000,
  });
}

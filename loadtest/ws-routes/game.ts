/**
 * The game room (routes/game.ts) in the WebSocket bench's routes folder, plus a probe for the
 * server's side of tick jitter: while players are connected a 50 ms interval (the game's tick
 * period, on the same event loop) records how late each of its firings is; `game-stats.ts`
 * answers those figures over HTTP.
 */

import { close as gameClose, open as gameOpen } from '../../routes/game.js';
import type { WsConnection } from '../../src/api.js';

export { message, upgrade } from '../../routes/game.js';

const TICK_MS = 50;
interface Probe {
  gaps: number[];
}
const probe = ((globalThis as { __gameProbe?: Probe }).__gameProbe ??= { gaps: [] });
let timer: NodeJS.Timeout | undefined;
let players = 0;
let last = 0;

export function open(ws: WsConnection): void {
  gameOpen(ws);
  if (players++ === 0) {
    last = performance.now();
    timer = setInterval(() => {
      const now = performance.now();
      probe.gaps.push(now - last);
      last = now;
    }, TICK_MS);
  }
}

export function close(ws: WsConnection): void {
  gameClose(ws);
  if (--players === 0 && timer !== undefined) {
    clearInterval(timer);
    timer = undefined;
  }
}

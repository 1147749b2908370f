/**
 * GET /game-stats (WebSocket bench): the server-side tick gaps recorded by game.ts since the last
 * call, as JSON `{ gaps: [ms…] }`, and forgets them.
 */
import { type Context, json, type Reply } from '../../src/api.js';

export default function gameStats(_ctx: Context): Reply {
  const probe = (globalThis as { __gameProbe?: { gaps: number[] } }).__gameProbe ?? { gaps: [] };
  const gaps = probe.gaps.splice(0);
  return json({ gaps });
}

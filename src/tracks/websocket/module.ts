/**
 * WebSocket route modules: `routes/NAME.ts` (built to `<routes_dir>/NAME.js`) exporting `open`,
 * `message`, `close` and optionally `upgrade`. At least `message` or `open` must be a function;
 * anything exported under those names that is not a function is an error naming the file.
 */
import { join } from 'node:path';
import type { Reply } from '../../exchange.js';
import { importModule } from '../../import-module.js';
import type { Context } from '../handler/context.js';
import type { WsConnection } from './connection.js';

/** What `upgrade` may return: a Reply refuses; anything else accepts (`data` goes to `ws.data`). */
export type UpgradeResult = Reply | { data?: unknown } | undefined;

export interface WsModule {
  upgrade?: (ctx: Context) => UpgradeResult | Promise<UpgradeResult> | void;
  open?: (ws: WsConnection) => void | Promise<void>;
  message?: (ws: WsConnection, data: string | Buffer, binary: boolean) => void | Promise<void>;
  close?: (ws: WsConnection, code: number, reason: string) => void | Promise<void>;
}

const HOOKS = ['upgrade', 'open', 'message', 'close'] as const;

export async function loadWsModule(routesDir: string, name: string): Promise<WsModule> {
  const file = join(routesDir, `${name}.js`);
  const mod = await importModule(file); // a failure names the file and line
  for (const k of HOOKS) {
    if (mod[k] !== undefined && typeof mod[k] !== 'function')
      throw new Error(`${file}: the export "${k}" of a websocket module must be a function`);
  }
  if (typeof mod.open !== 'function' && typeof mod.message !== 'function')
    throw new Error(`${file}: a websocket module must export open(ws) or message(ws, data, binary)`);
  return mod as WsModule;
}

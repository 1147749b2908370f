/**
 * Handler modules: `routes/NAME.ts`, compiled to `dist/routes/NAME.js`, default-exporting
 * `async (ctx) => Reply`. Loaded when a route table is built (start-up, reload) and by `switchyard check`; a module that fails
 * to load or does not export a function is an error naming the file (and line).
 */
import { join } from 'node:path';
import type { Reply } from '../../exchange.js';
import { importModule } from '../../import-module.js';
import type { Context } from './context.js';

export type Handler = (ctx: Context) => Reply | Promise<Reply>;

export async function loadHandler(routesDir: string, name: string): Promise<Handler> {
  const file = join(routesDir, `${name}.js`);
  const mod = await importModule(file); // a failure names the file and line
  if (typeof mod.default !== 'function') {
    throw new Error(`${file}: a handler module must default-export a function (ctx) => Reply`);
  }
  return mod.default as Handler;
}

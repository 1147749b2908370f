/**
 * Handler modules: `routes/NAME.ts`, compiled to `dist/routes/NAME.js`, default-exporting
 * `async (ctx) => Reply`. Loaded once at start-up; a module that does not export a function is a
 * start-up error naming the file.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Reply } from '../../exchange.js';
import type { Context } from './context.js';

export type Handler = (ctx: Context) => Reply | Promise<Reply>;

export async function loadHandler(routesDir: string, name: string): Promise<Handler> {
  const file = join(routesDir, `${name}.js`);
  const mod = (await import(pathToFileURL(file).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') {
    throw new Error(`${file}: a handler module must default-export a function (ctx) => Reply`);
  }
  return mod.default as Handler;
}

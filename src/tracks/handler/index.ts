/**
 * The handler track: `{ path: /hello, handler: hello }` runs the default export of
 * `routes/hello.ts` (built to `<routes_dir>/hello.js`) with a Context, in direct async/await style.
 * The module is imported once, when the route table is built.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { name } from '../../config/fields.js';
import type { Reply } from '../../exchange.js';
import { defineTrack, lookedFor } from '../track.js';
import { Context, type RouteOptions } from './context.js';
import { loadHandler } from './load.js';

/** Await the handler, then close its scope (if it opened one): nothing forked outlives the request. */
async function settle(ctx: Context, result: Reply | Promise<Reply>): Promise<Reply> {
  try {
    return await result;
  } finally {
    const closing = ctx.closeScope();
    if (closing !== undefined) await closing;
  }
}

export const handlerTrack = defineTrack({
  name: 'handler',
  shape: {
    handler: name,
    /** run ctx.run() jobs on the event loop instead of the pool (for measuring only) */
    inline: z.boolean().optional(),
  },
  check(route, refs) {
    const file = join(refs.routesDir, `${route.handler}.js`);
    if (existsSync(file)) return [];
    return [{ key: 'handler', message: `no handler module "${route.handler}" (${lookedFor(file)})` }];
  },
  async compile(route, env) {
    const fn = await loadHandler(env.routesDir, route.handler);
    const opts: RouteOptions = { inline: route.inline ?? false };
    const services = env.services;
    return (ex, params) => {
      const ctx = new Context(ex, params, services, opts);
      let result: Reply | Promise<Reply>;
      try {
        result = fn(ctx);
      } catch (err) {
        result = Promise.reject(err);
      }
      // A synchronous handler that opened no scope answers without a promise on the way.
      if (!(result instanceof Promise) && !ctx.hasScope) return result;
      return settle(ctx, result);
    };
  },
});

import { type Context, json, type Reply } from '../src/api.js';

/** Answers the request as JSON: method, path, query, headers and the body (as text). */
export default async function echo(ctx: Context): Promise<Reply> {
  const body = await ctx.text();
  return json({
    method: ctx.method,
    path: ctx.path,
    query: Object.fromEntries(ctx.query),
    headers: ctx.headers,
    body,
  });
}

import { type Context, HttpError, json, type Reply } from '../src/api.js';

const DIGITS = /^[0-9]{1,9}$/;

/**
 * GET /fib/:n → {"n": 30, "result": 832040}. The computation is the `fib` job (routes/jobs/fib.ts),
 * run on the worker pool (or on the event loop with the route's `inline: true`, for comparison).
 * n must be an integer in 0..90; results above 2^53 come back as strings.
 */
export default async function fib(ctx: Context): Promise<Reply> {
  const raw = ctx.params.n ?? '';
  const n = DIGITS.test(raw) ? Number(raw) : -1;
  if (n < 0 || n > 90) throw new HttpError(400, 'n must be an integer in 0..90');
  const result = await ctx.run<number | string>('fib', n);
  return json({ n, result });
}

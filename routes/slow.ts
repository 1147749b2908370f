import { type Context, HttpError, isCancellation, type Reply, sleep, text } from '../src/api.js';

/**
 * GET /slow?ms=N — sleeps N ms (at most 60 s) on the request's signal, so a route timeout or a
 * client that goes away stops it at once. When that happens it logs `slow: cancelled` with how
 * long it had slept, which is how the tests see the handler observe the abort.
 */
export default async function slow(ctx: Context): Promise<Reply> {
  const ms = Number(ctx.query.get('ms') ?? 1000);
  if (!Number.isInteger(ms) || ms < 0 || ms > 60_000)
    throw new HttpError(400, 'ms must be an integer in 0..60000');
  const t0 = performance.now();
  try {
    await sleep(ms, ctx.signal);
  } catch (err) {
    if (isCancellation(err) || ctx.signal.aborted) {
      const reason = ctx.signal.reason as { code?: string } | undefined;
      ctx.log.info({ slept_ms: Math.round(performance.now() - t0), reason: reason?.code }, 'slow: cancelled');
    }
    throw err;
  }
  return text(`slept ${ms} ms\n`);
}

import { type Context, HttpError, pick, type Reply, sleep, TimeoutError, text } from '../src/api.js';

/**
 * The seed program of Lwt, in our terms: fetch a path from a configured upstream, racing a
 * 5-second timer with `pick`. Whichever settles first decides; the loser is aborted and awaited
 * before `pick` returns, so a slow upstream request is cancelled (its socket closed) the moment
 * the timer wins — nothing keeps running for nobody.
 *
 *   GET /first?path=/hello[&upstream=app][&timeout_ms=N]   (timeout_ms may only shorten the 5 s)
 *
 * Answers the upstream's body (and status), or 504 "request timed out".
 */
const MAX_BODY = 1024 * 1024;

export default async function first(ctx: Context): Promise<Reply> {
  const path = ctx.query.get('path') ?? '/';
  if (!path.startsWith('/') || /[\s\u0000-\u001f\u007f]/.test(path))
    throw new HttpError(400, 'path must be an absolute path');
  const limit = Math.min(5000, Number(ctx.query.get('timeout_ms') ?? 5000));
  if (!(limit > 0)) throw new HttpError(400, 'timeout_ms must be a positive number');
  const { origin, dispatcher } = ctx.upstream(ctx.query.get('upstream') ?? 'app');

  return pick<Reply>(ctx.signal, [
    async (signal) => {
      const res = await dispatcher.request({ origin, path, method: 'GET', signal });
      // Bounded read: this example buffers the body, so it refuses one larger than MAX_BODY.
      let body = '';
      for await (const chunk of res.body) {
        body += chunk;
        if (body.length > MAX_BODY) {
          res.body.destroy();
          throw new HttpError(502, `upstream body over ${MAX_BODY} bytes`, 'SY_ERR_UPSTREAM_BAD_RESPONSE');
        }
      }
      const type = res.headers['content-type'];
      return text(body, res.statusCode, typeof type === 'string' ? { 'content-type': type } : undefined);
    },
    async (signal) => {
      await sleep(limit, signal);
      throw new TimeoutError('request timed out');
    },
  ]);
}

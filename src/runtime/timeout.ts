import { MAX_TIMER_MS, now } from './clock.js';
import { TimeoutError, toCancelReason } from './errors.js';
import { Link } from './link.js';
import { loserFailed, loserSucceeded, type RaceOptions } from './report.js';
import { isEcho, start, type Work } from './work.js';

/**
 * Run `work` with a child signal of `signal` that aborts with a `TimeoutError` after `ms`. When the
 * timer wins, `withTimeout` aborts the work **and awaits it**, then rejects with that
 * `TimeoutError`: here the timeout is the real outcome, not a cancellation.
 *
 * - Both finishing at once: whichever happened first wins. If the timer fired first, a value the
 *   work produces anyway goes to `onLoserValue` (or is dropped) and a real failure to
 *   `onLoserError` (default: a process warning); the result is still the TimeoutError.
 * - If `signal` aborts first, the work is aborted and `withTimeout` settles as the work does
 *   (usually with the `Cancelled` reason); the timer then never fires.
 * - `ms <= 0` (or NaN) times out at once without starting the work; `ms` beyond `setTimeout`'s
 *   range (e.g. Infinity) sets no timer. The timer is unref()ed and cleared on every path.
 */
export function withTimeout<T>(
  ms: number,
  signal: AbortSignal | undefined,
  work: Work<T>,
  opts?: RaceOptions<T>,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(toCancelReason(signal.reason));
  if (!(ms > 0)) return Promise.reject(new TimeoutError(`timed out after ${ms} ms`));
  const link = new Link(signal);
  return new Promise<T>((resolve, reject) => {
    let timedOut: TimeoutError | undefined;
    let timer: NodeJS.Timeout | undefined;
    if (ms <= MAX_TIMER_MS) {
      timer = setTimeout(() => {
        if (link.signal.aborted) return;
        timedOut = new TimeoutError(`timed out after ${ms} ms`);
        link.abort(timedOut);
      }, ms);
      timer.unref();
    }
    start(work, link.signal).then(
      (v) => {
        clearTimeout(timer);
        link.dispose();
        if (timedOut === undefined) {
          resolve(v);
          return;
        }
        loserSucceeded(opts, v, 'withTimeout');
        reject(timedOut);
      },
      (err: unknown) => {
        clearTimeout(timer);
        link.dispose();
        if (timedOut === undefined) {
          reject(err);
          return;
        }
        if (!isEcho(err, link.signal)) loserFailed(opts, err, 'withTimeout');
        reject(timedOut);
      },
    );
  });
}

/** `withTimeout` until an absolute `deadline` on the `performance.now()` timebase (see `now`). */
export function withDeadline<T>(
  deadline: number,
  signal: AbortSignal | undefined,
  work: Work<T>,
  opts?: RaceOptions<T>,
): Promise<T> {
  return withTimeout(deadline - now(), signal, work, opts);
}

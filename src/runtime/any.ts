import { Cancelled, toCancelReason } from './errors.js';
import { Link } from './link.js';
import { loserFailed, loserSucceeded, type RaceOptions } from './report.js';
import { isEcho, start, type Work } from './work.js';

/**
 * First success wins (`Promise.any`, with cancellation): every work runs with its own child
 * signal of `signal`; on the first success the others are aborted with `Cancelled('lost the
 * race')` and awaited, then `any` resolves with that value.
 *
 * - Failures before the first success are part of the race and dropped once something succeeds.
 *   After it, a loser's real failure goes to `onLoserError` (default: a process warning) and a
 *   loser's value to `onLoserValue` (or is dropped), as in `pick`.
 * - When every work fails: an `AggregateError` of the real failures in input order (always an
 *   AggregateError, even of one). When all of them only echo the cancellation of `signal`, it
 *   rejects with that cancellation (a `Cancelled`) instead: a cancelled `any` looks cancelled.
 * - An already aborted `signal` starts nothing; an empty list rejects with an empty AggregateError.
 */
export function any<T>(
  signal: AbortSignal | undefined,
  works: readonly Work<T>[],
  opts?: RaceOptions<T>,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(toCancelReason(signal.reason));
  const n = works.length;
  if (n === 0) return Promise.reject(new AggregateError([], 'any: no work'));
  return new Promise<T>((resolve, reject) => {
    const links: Link[] = [];
    for (let i = 0; i < n; i++) links.push(new Link(signal));
    const errors: unknown[] = [];
    let winner = -1;
    let value: T | undefined;
    let pending = n;
    const settle = (i: number, fulfilled: boolean, v: unknown): void => {
      if (winner !== -1) {
        if (fulfilled) loserSucceeded(opts, v as T, 'any');
        else if (!isEcho(v, links[i]!.signal)) loserFailed(opts, v, 'any');
      } else if (fulfilled) {
        winner = i;
        value = v as T;
        const lost = new Cancelled('lost the race');
        for (let j = 0; j < n; j++) if (j !== i) links[j]!.abort(lost);
      } else {
        errors[i] = v;
      }
      if (--pending > 0) return;
      for (const l of links) l.dispose();
      if (winner !== -1) {
        resolve(value as T);
        return;
      }
      const real: unknown[] = [];
      for (let j = 0; j < n; j++) if (!isEcho(errors[j], links[j]!.signal)) real.push(errors[j]);
      if (real.length === 0) reject(links[0]!.signal.reason);
      else reject(new AggregateError(real, `any: all ${real.length} failed`));
    };
    for (let i = 0; i < n; i++) {
      start(works[i]!, links[i]!.signal).then(
        (v) => {
          settle(i, true, v);
        },
        (err: unknown) => {
          settle(i, false, err);
        },
      );
    }
  });
}

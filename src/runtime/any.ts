import { toCancelReason } from './errors.js';
import { FIRST_SUCCESS, race } from './race.js';
import type { RaceOptions } from './report.js';
import type { Work } from './work.js';

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
  if (works.length === 0) return Promise.reject(new AggregateError([], 'any: no work'));
  return race(signal, works, opts, FIRST_SUCCESS, 'any');
}

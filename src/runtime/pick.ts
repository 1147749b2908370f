import { toCancelReason } from './errors.js';
import { FIRST_SETTLED, race } from './race.js';
import type { RaceOptions } from './report.js';
import type { Work } from './work.js';

/**
 * Lwt's `pick`: run every work, each with its own child signal of `signal`; the first to settle,
 * by success or failure, decides. The others (the losers) are aborted with `Cancelled('lost the
 * race')` **and awaited**: `pick` settles only once every work has settled. This is where it
 * differs from `Promise.race`, which leaks the losers.
 *
 * - The winner's signal is never aborted by `pick`, so a winner's value may still use it while
 *   the losers wind down; once `pick` settles, it is unlinked from `signal` (no longer cancelled by
 *   it): consume streams inside the work, or tie them to a scope.
 * - Both finishing at once: the first whose settlement reaches `pick` wins (promise reaction order,
 *   in practice the one that settled first); the other is a loser. A loser's value is passed to
 *   `onLoserValue` (to release what it holds) or dropped.
 * - A loser that fails with a real error (not a cancellation) after the decision cannot change
 *   the outcome; it goes to `onLoserError`, by default a process warning (`reportLateError`).
 * - If `signal` aborts, every work is aborted and `pick` settles with whatever settles first
 *   (usually the `Cancelled` reason). If it is already aborted, nothing starts and `pick` rejects
 *   with its reason (as a `Cancelled`). An empty list rejects with a TypeError.
 *
 * @example
 * // First to answer, against a 5-second timer (the loser is cancelled and awaited).
 * const body = await pick(ctx.signal, [
 *   (signal) => fetchText(url, signal),
 *   (signal) => sleep(5000, signal).then(() => Promise.reject(new TimeoutError())),
 * ]);
 */
export function pick<T>(
  signal: AbortSignal | undefined,
  works: readonly Work<T>[],
  opts?: RaceOptions<T>,
): Promise<T> {
  if (signal?.aborted) return Promise.reject(toCancelReason(signal.reason));
  if (works.length === 0) return Promise.reject(new TypeError('pick: no work to pick from'));
  return race(signal, works, opts, FIRST_SETTLED, 'pick');
}

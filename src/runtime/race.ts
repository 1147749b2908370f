import { Cancelled } from './errors.js';
import { Link } from './link.js';
import { loserFailed, loserSucceeded, type RaceOptions } from './report.js';
import { isEcho, start, type Work } from './work.js';

/** Who decides a race: the first to settle (`pick`) or the first to succeed (`any`). @internal */
export const FIRST_SETTLED = 0;
export const FIRST_SUCCESS = 1;

/**
 * The engine of `pick` and `any` (their doc-comments state the semantics): one child link of
 * `signal` per work, the losers aborted with one shared `Cancelled('lost the race')`, every work
 * awaited, every link disposed before the returned promise settles.
 * @internal
 */
export function race<T>(
  signal: AbortSignal | undefined,
  works: readonly Work<T>[],
  opts: RaceOptions<T> | undefined,
  mode: typeof FIRST_SETTLED | typeof FIRST_SUCCESS,
  where: string,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const n = works.length;
    const links: Link[] = [];
    for (let i = 0; i < n; i++) links.push(new Link(signal));
    const failures: unknown[] = []; // before a winner, FIRST_SUCCESS only
    let winner = -1;
    let won = false;
    let outcome: unknown;
    let pending = n;
    const settle = (i: number, fulfilled: boolean, v: unknown): void => {
      if (winner === -1 && (fulfilled || mode === FIRST_SETTLED)) {
        winner = i;
        won = fulfilled;
        outcome = v;
        if (n > 1) {
          const lost = new Cancelled('lost the race');
          for (let j = 0; j < n; j++) if (j !== i) links[j]!.abort(lost);
        }
      } else if (winner === -1) {
        failures[i] = v;
      } else if (fulfilled) {
        loserSucceeded(opts, v as T, where);
      } else if (!isEcho(v, links[i]!.signal)) {
        loserFailed(opts, v, where);
      }
      if (--pending > 0) return;
      for (const l of links) l.dispose();
      if (winner === -1) reject(allFailed(failures, links, where));
      else if (won) resolve(outcome as T);
      else reject(outcome);
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

/** No success: the real failures as an AggregateError, or the cancellation if all were echoes. */
function allFailed(failures: unknown[], links: Link[], where: string): unknown {
  const real: unknown[] = [];
  for (let j = 0; j < failures.length; j++) {
    if (!isEcho(failures[j], links[j]!.signal)) real.push(failures[j]);
  }
  if (real.length === 0) return links[0]!.signal.reason;
  return new AggregateError(real, `${where}: all ${real.length} failed`);
}

import { MAX_TIMER_MS } from './clock.js';
import { TimeoutError } from './errors.js';

/** What {@link settleWithin} saw: `OK`, `OVERRAN`, or `{ error }`. @internal */
export const OK = 0;
export const OVERRAN = 1;
export type Settled = typeof OK | typeof OVERRAN | { error: unknown };

/**
 * Wait for `p` at most `ms` milliseconds. When the budget runs out, `controller` is aborted with a
 * `TimeoutError` and `p` is abandoned (its later rejection is already handled: no unhandled
 * rejection). The timer is unref()ed and cleared when `p` settles first.
 * @internal
 */
export function settleWithin(
  p: PromiseLike<unknown>,
  ms: number,
  controller: AbortController,
): Promise<Settled> {
  return new Promise<Settled>((resolve) => {
    let timer: NodeJS.Timeout | undefined;
    if (!(ms > MAX_TIMER_MS)) {
      timer = setTimeout(() => {
        controller.abort(new TimeoutError(`finalizer exceeded its ${ms} ms budget`));
        resolve(OVERRAN);
      }, ms);
      timer.unref();
    }
    p.then(
      () => {
        clearTimeout(timer);
        resolve(OK);
      },
      (error: unknown) => {
        clearTimeout(timer);
        resolve({ error });
      },
    );
  });
}

import { MAX_TIMER_MS } from './clock.js';
import { Cancelled } from './errors.js';

/**
 * Resolve after `ms` milliseconds; reject with `signal.reason` (a `Cancelled` if it has none) as
 * soon as `signal` aborts, at once if it already has. The timer and the listener are removed on
 * every path.
 *
 * The timer is `unref()`ed: a sleep alone does not keep the process alive. `ms` of `Infinity` (or
 * beyond `setTimeout`'s range) sleeps until the signal aborts.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason ?? new Cancelled());
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason ?? new Cancelled());
    };
    if (!(ms > MAX_TIMER_MS)) {
      timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort);
        resolve();
      }, ms);
      timer.unref();
    }
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

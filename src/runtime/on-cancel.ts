import { reportLateError } from './report.js';

const noop = (): void => {};

/**
 * Call `fn(reason)` once when `signal` aborts; at once (synchronously) if it already has. Returns
 * a disposer that removes the listener; call it when the guarded operation ends.
 *
 * `fn` runs inside an abort listener, where a throw (or a returned rejected promise) would crash
 * the process: both are caught and handed to `reportLateError`.
 */
export function onCancel(signal: AbortSignal | undefined, fn: (reason: unknown) => unknown): () => void {
  if (signal === undefined) return noop;
  if (signal.aborted) {
    call(fn, signal.reason);
    return noop;
  }
  const listener = (): void => {
    call(fn, signal.reason);
  };
  signal.addEventListener('abort', listener, { once: true });
  return () => {
    signal.removeEventListener('abort', listener);
  };
}

function call(fn: (reason: unknown) => unknown, reason: unknown): void {
  try {
    const r = fn(reason);
    if (r !== null && typeof r === 'object' && typeof (r as PromiseLike<unknown>).then === 'function') {
      (r as PromiseLike<unknown>).then(undefined, (err) => {
        reportLateError(err, 'onCancel');
      });
    }
  } catch (err) {
    reportLateError(err, 'onCancel');
  }
}

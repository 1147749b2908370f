import { isCancellation } from './errors.js';

/**
 * Work is always a function of a signal, never a bare promise: whoever runs it can cancel it.
 * It should stop soon after `signal` aborts, typically by rejecting with `signal.reason`.
 */
export type Work<T> = (signal: AbortSignal) => Promise<T>;

/** Run `work`; a synchronous throw becomes a rejection. @internal */
export function start<T>(work: Work<T>, signal: AbortSignal): Promise<T> {
  try {
    return Promise.resolve(work(signal));
  } catch (err) {
    return Promise.reject(err);
  }
}

/**
 * Was `err` only the echo of `signal` being aborted? Yes when the signal is aborted and the error
 * is its reason or any cancellation. A `Cancelled` on a signal that was not aborted is a real
 * failure (something else cancelled it).
 * @internal
 */
export function isEcho(err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err === signal.reason || isCancellation(err));
}

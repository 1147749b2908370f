/** Test helpers for the runtime suite. */

export interface Deferred<T> {
  promise: Promise<T>;
  resolve: (value: T) => void;
  reject: (err: unknown) => void;
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void;
  let reject!: (err: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** Let every pending microtask and one macrotask turn run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Wall-clock wait that no signal can interrupt (for work that ignores cancellation). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Work that waits `ms` (or until aborted, then rejects with the reason), logging to `trace`. */
export function slow<T>(ms: number, value: T, trace?: string[], name = String(value)) {
  return (signal: AbortSignal): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        signal.removeEventListener('abort', onAbort);
        trace?.push(`${name} done`);
        resolve(value);
      }, ms);
      const onAbort = (): void => {
        clearTimeout(t);
        // settle a little later, as real I/O does
        setTimeout(() => {
          trace?.push(`${name} aborted`);
          reject(signal.reason);
        }, 5);
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });
}

/** Work that fails with `err` after `ms`. */
export function failing(ms: number, err: unknown, trace?: string[], name = 'failing') {
  return async (_signal: AbortSignal): Promise<never> => {
    await delay(ms);
    trace?.push(`${name} failed`);
    throw err;
  };
}

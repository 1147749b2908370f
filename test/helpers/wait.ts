/**
 * Waiting in tests without guessing how long the machine takes. A test waits for a condition or
 * for a value to settle, never for a fixed time: a fixed sleep is too short on a busy machine and
 * wasted on a quiet one. The limits here are when to give up on a thing that will never happen, not
 * claims about speed, so they are generous; a speed claim compares with a baseline measured in the
 * same test (see `relativeBound`).
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long `until` and `settle` wait before giving up, unless told. */
export const GIVE_UP_MS = 10_000;

/**
 * Poll `fn` until it returns something truthy and return that; throw after `ms` (default
 * GIVE_UP_MS). `until(fn, 'what')` names the condition for the error and keeps the default.
 */
export async function until<T>(
  fn: () => T | undefined | false | null,
  msOrWhat: number | string = GIVE_UP_MS,
  what = 'condition',
): Promise<T> {
  const ms = typeof msOrWhat === 'number' ? msOrWhat : GIVE_UP_MS;
  if (typeof msOrWhat === 'string') what = msOrWhat;
  const end = performance.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (performance.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(2);
  }
}

export interface SettleOptions<T> {
  /** return as soon as a value passes this (say, the descriptor count is back to its baseline) */
  target?: (v: T) => boolean;
  /** without a target: the value must stay the same this long */
  quietMs?: number;
  /** give up and return the last value read */
  ms?: number;
  /** poll interval */
  everyMs?: number;
}

/**
 * Poll `read` until the state settles and return the value: the first value that passes `target`,
 * or (without one) a value unchanged for `quietMs`; after `ms`, the last value read. The caller
 * asserts on what comes back, so a leak fails with the leaked count rather than a timeout.
 */
export async function settle<T>(read: () => T | Promise<T>, opts: SettleOptions<T> = {}): Promise<T> {
  const { target, quietMs = 250, ms = GIVE_UP_MS, everyMs = 10 } = opts;
  const end = performance.now() + ms;
  let last = await read();
  let since = performance.now();
  for (;;) {
    if (target?.(last)) return last;
    const now = performance.now();
    if (target === undefined && now - since >= quietMs) return last;
    if (now > end) return last;
    await sleep(everyMs);
    const v = await read();
    if (!Object.is(v, last)) {
      last = v;
      since = performance.now();
    }
  }
}

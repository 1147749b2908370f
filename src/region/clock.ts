/**
 * The shared clock: milliseconds since the Unix epoch, with sub-millisecond precision. Every
 * thread's `performance.now()` counts from that thread's own start, so times written by one
 * thread and read by another must use a common origin: `performance.timeOrigin` is absolute.
 * (Not `Date.now()`: it is whole milliseconds and follows wall-clock steps.)
 */
const origin = performance.timeOrigin;

/** Now, in ms since the Unix epoch, monotonic within a thread. */
export function sharedNow(): number {
  return origin + performance.now();
}

/** Convert a `performance.now()` value of this thread to the shared clock. */
export function toShared(perfNow: number): number {
  return origin + perfNow;
}

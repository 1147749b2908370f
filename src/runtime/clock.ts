/**
 * The runtime's timebase. Deadlines are absolute milliseconds on `performance.now()` (monotonic,
 * immune to wall-clock jumps), not `Date.now()`.
 */
export const now: () => number = performance.now.bind(performance);

/**
 * Longest delay `setTimeout` accepts; anything longer fires after 1 ms with a warning. The runtime
 * treats longer delays as "no timer" (24.8 days is past any request deadline).
 */
export const MAX_TIMER_MS = 2_147_483_647;

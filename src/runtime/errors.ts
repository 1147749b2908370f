/**
 * The two outcomes the runtime itself produces, and the test for "this failure is only an echo of
 * a cancellation".
 *
 * Codes follow the project catalogue (`SY_ERR_*`); the HTTP mapping (499 / 504) lives in the
 * catalogue, not here, so the runtime stays a leaf.
 */

/**
 * The work was cancelled: its scope was cancelled, a sibling failed, it lost a race, or the
 * parent signal aborted. `reason` is what caused it (the parent's abort reason, the sibling's
 * error, the argument of `cancel(reason)`), or `undefined`.
 *
 * Every signal the runtime aborts carries a `Cancelled` or a {@link TimeoutError} as its reason.
 */
export class Cancelled extends Error {
  readonly code = 'SY_ERR_CANCELLED';
  readonly reason: unknown;

  constructor(reason?: unknown) {
    super(
      reason instanceof Error
        ? `cancelled: ${reason.message}`
        : typeof reason === 'string'
          ? `cancelled: ${reason}`
          : 'cancelled',
      reason instanceof Error ? { cause: reason } : undefined,
    );
    this.name = 'Cancelled';
    this.reason = reason;
  }
}

/**
 * A deadline passed. It is the abort reason of a scope cancelled by its own deadline, and the
 * result of `withTimeout` / `withDeadline` when the timer wins.
 *
 * Not a cancellation ({@link isCancellation} is false): when `withTimeout` rejects with it, the
 * timeout is the real outcome. A scope tells its own deadline's echoes apart by identity (the
 * task rejected with the scope's `signal.reason`).
 */
export class TimeoutError extends Error {
  readonly code = 'SY_ERR_TIMEOUT';

  constructor(message = 'timed out') {
    super(message);
    this.name = 'TimeoutError';
  }
}

/**
 * True for the errors that only say "you were cancelled": {@link Cancelled}, any `AbortError`
 * (the `DOMException` of `AbortController.abort()`, Node's `AbortError` from `events` / timers,
 * undici's `RequestAbortedError`), and any error whose `code` is `ABORT_ERR` or `UND_ERR_ABORTED`.
 * False for {@link TimeoutError}.
 */
export function isCancellation(err: unknown): boolean {
  if (err instanceof Cancelled) return true;
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; code?: unknown };
  return e.name === 'AbortError' || e.code === 'ABORT_ERR' || e.code === 'UND_ERR_ABORTED';
}

/**
 * The abort reason the runtime puts on its own signals: a `Cancelled` or `TimeoutError` is kept
 * as is (so one cancellation is one object all the way down), anything else is wrapped.
 * @internal
 */
export function toCancelReason(reason: unknown): Cancelled | TimeoutError {
  return reason instanceof Cancelled || reason instanceof TimeoutError ? reason : new Cancelled(reason);
}

/** One error for a list of real failures: the error itself, or an AggregateError (first first). */
export function combine(errors: readonly unknown[]): unknown {
  return errors.length === 1 ? errors[0] : new AggregateError(errors, `${errors.length} failures`);
}

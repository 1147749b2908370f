/**
 * Where failures go that arrive after the outcome was decided: a race loser that fails for real,
 * work that fails after its timeout fired, an `onCancel` callback that throws. They cannot change
 * the result any more, and must not vanish either.
 */

/** Per-call hooks for work that settles after the race was decided ("losers"). */
export interface RaceOptions<T> {
  /**
   * A loser failed with a real error (not a cancellation) after the race was decided.
   * Default: {@link reportLateError} (a process warning with code `SY_WARN_LATE_ERROR`).
   */
  onLoserError?: (err: unknown) => void;
  /**
   * A loser succeeded anyway (it finished in the same turn as the winner, or ignored its signal).
   * Its value is otherwise dropped: use this to release what it holds (a response body, a handle).
   */
  onLoserValue?: (value: T) => void;
}

/**
 * Default sink for late failures: `process.emitWarning` of an Error named `SwitchyardLateError`,
 * code `SY_WARN_LATE_ERROR`, with the original as `cause`. The server listens to
 * `process.on('warning')` and logs it.
 */
export function reportLateError(err: unknown, where = 'runtime'): void {
  const warning = new Error(`${where}: a failure arrived after the outcome was decided`, { cause: err });
  warning.name = 'SwitchyardLateError';
  (warning as Error & { code: string }).code = 'SY_WARN_LATE_ERROR';
  process.emitWarning(warning);
}

/** Hand a loser's failure to the hook, or to the default sink. @internal */
export function loserFailed<T>(opts: RaceOptions<T> | undefined, err: unknown, where: string): void {
  const hook = opts?.onLoserError;
  if (hook === undefined) {
    reportLateError(err, where);
    return;
  }
  try {
    hook(err);
  } catch (hookErr) {
    reportLateError(hookErr, `${where} onLoserError`);
  }
}

/** Hand a loser's value to the hook, if any (else it is dropped). @internal */
export function loserSucceeded<T>(opts: RaceOptions<T> | undefined, value: T, where: string): void {
  const hook = opts?.onLoserValue;
  if (hook === undefined) return;
  try {
    hook(value);
  } catch (hookErr) {
    reportLateError(hookErr, `${where} onLoserValue`);
  }
}

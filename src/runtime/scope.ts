import { RequestScope, type Scope, type ScopeOptions } from './request-scope.js';

/**
 * Run `body` in a new scope (Eio's `Switch.run`): a child of `opts.signal` or `opts.parent`, with
 * an optional deadline. Resolves with the body's value, or rejects with the scope's outcome.
 *
 * - Never settles before every task forked in it has settled, also when the body throws.
 * - The first real failure, of the body or of a task, cancels the rest (the signal aborts with
 *   `Cancelled(err)`); rejections that only echo that cancellation are ignored, so the real error is
 *   what surfaces; two real failures surface as an `AggregateError`, first error first.
 * - Deadline: min(`deadline`, now + `timeout`, parent scope's deadline). When it passes the signal
 *   aborts with a `TimeoutError` and the scope rejects with it (unless a real error occurred), also
 *   when the body had its value ready in the same instant: the clock decides when the tasks settle.
 * - A cancelled scope (parent aborted, `cancel()`) rejects with its `Cancelled` reason even if the
 *   body returned a value; that value is dropped.
 * - Finalizers (`defer`) run last in first out after the tasks, shielded from the cancellation
 *   (fresh signal, parent unlinked, timer cleared), each bounded by `finalizerBudget` (5 s); one that
 *   throws or overruns joins the outcome as a real failure.
 *
 * See {@link RequestScope} for the details and costs.
 *
 * @example
 * const [user, feed] = await scope(async (s) => {
 *   const user = s.fork((signal) => getUser(id, signal));
 *   const feed = s.fork((signal) => getFeed(id, signal));
 *   s.defer(() => metrics.done());
 *   return [await user, await feed];
 * }, { signal: ctx.signal, timeout: 2000 });
 */
export async function scope<T>(body: (s: Scope) => Promise<T>, opts?: ScopeOptions): Promise<T> {
  const s = new RequestScope(opts);
  let value: T | undefined;
  try {
    value = await body(s);
  } catch (err) {
    s.fail(err);
  }
  await s.close();
  return value as T;
}

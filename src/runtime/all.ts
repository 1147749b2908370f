import { RequestScope } from './request-scope.js';
import type { Work } from './work.js';

/**
 * Run every work in one scope, child of `signal`, and resolve with their values in input order.
 * The first real failure cancels the rest (their shared signal aborts with `Cancelled(err)`); all
 * of them are awaited before `all` settles. Same error rules as `scope`: a lone real failure
 * rejects with itself, two or more with an AggregateError (first failure first), cancellation
 * echoes never mask a real error, and a cancelled `all` rejects with its `Cancelled` reason.
 */
export async function all<T>(signal: AbortSignal | undefined, works: readonly Work<T>[]): Promise<T[]> {
  const s = new RequestScope({ signal });
  const tasks = works.map((work) => s.fork(work));
  await s.close();
  return Promise.all(tasks);
}

/** `all` for two works of different types. */
export function both<A, B>(signal: AbortSignal | undefined, a: Work<A>, b: Work<B>): Promise<[A, B]> {
  return all<A | B>(signal, [a, b]) as Promise<[A, B]>;
}

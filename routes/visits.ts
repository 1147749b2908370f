import { threadId } from 'node:worker_threads';
import { type Context, json, type Reply } from '../src/api.js';

/**
 * Shared state from a handler: a visit counter and each client's last visit, the same in every
 * acceptor thread (`threads: N`). Needs, in the config:
 *
 *   shared: { counters: [visits], tables: { last_visit: { size: 4096, key: 64, value: 64 } } }
 *
 * `add()` is one atomic add, so concurrent visits on different threads are all counted; `set`
 * replaces the client's record whole (a reader on another thread sees the old or the new one).
 * `thread` is Node's `threadId` of the thread that answered: 0 for the main thread, 1 and up for
 * acceptor threads (a replacement after a crash gets a new one). It is not the access log's
 * `thread`, which is the acceptor's index (0 to N-1) and stays with its slot.
 */
export default function visits(ctx: Context): Reply {
  const n = ctx.shared.counter('visits').add(1);
  const last = ctx.shared.table('last_visit');
  const previous = last.get(ctx.remoteAddress);
  last.set(ctx.remoteAddress, new Date().toISOString());
  return json({ visits: n, previous: previous ?? null, thread: threadId });
}

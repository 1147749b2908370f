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
 * `thread` says which acceptor answered (0 when the main thread serves).
 */
export default function visits(ctx: Context): Reply {
  const n = ctx.shared.counter('visits').add(1);
  const last = ctx.shared.table('last_visit');
  const previous = last.get(ctx.remoteAddress);
  last.set(ctx.remoteAddress, new Date().toISOString());
  return json({ visits: n, previous: previous ?? null, thread: threadId });
}

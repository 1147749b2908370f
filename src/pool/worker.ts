/**
 * The piscina worker: one per pool thread. Dispatches a task to its job module by name; every module
 * is imported once per worker, when the worker starts, and cached. Returns the job's output with
 * its own run time, so the main thread can split a job's latency into queue wait and run time.
 *
 * piscina loads this file (compiled: dist/src/pool/worker.js) in every thread; `workerData.jobs`
 * maps job names to module URLs (see registry.ts).
 */
import { performance } from 'node:perf_hooks';
import { workerData } from 'node:worker_threads';
import type { JobFn } from './registry.js';
import { transferables } from './transfer.js';

/** What the main thread posts. */
export interface JobTask {
  job: string;
  input: unknown;
}

/** What the worker answers: the output and the time the job itself ran (ms). */
export interface JobResult {
  value: unknown;
  runMs: number;
}

const urls = (workerData as { jobs: Record<string, string> } | null)?.jobs ?? {};
const cache = new Map<string, Promise<JobFn>>();

function load(job: string): Promise<JobFn> {
  let p = cache.get(job);
  if (p === undefined) {
    const url = urls[job];
    p =
      url === undefined
        ? Promise.reject(new Error(`unknown job "${job}"`))
        : import(url).then((m: { default?: unknown }) => {
            if (typeof m.default !== 'function') throw new Error(`${url}: no default-exported function`);
            return m.default as JobFn;
          });
    // A failed import is not cached: the next task retries (and fails the same way, with its error).
    p.catch(() => cache.delete(job));
    cache.set(job, p);
  }
  return p;
}

// Import every job before the worker reports ready (piscina awaits this module, top-level await
// included, and gives a worker that replaces a terminated one no task before that): a job aborted
// while its module is loading would terminate the worker in the middle of reading the file and
// leak the descriptor that read had open (test/hardening/pool-terminate.test.ts 'leaves no
// descriptor behind'; docs/piscina.md). The pool's first
// worker still gets tasks at once (piscina marks its initial workers ready): that window remains,
// once per pool. A module that fails here fails again, with its error, in the task that asks for it.
await Promise.all(Object.keys(urls).map((job) => load(job).catch(() => {})));

let move: ((v: object) => unknown) | undefined;

/**
 * `v` as structured clone copies it (the buffers in `transfer` moved, not copied), or an Error
 * saying `what` cannot be sent back, with the clone's reason.
 */
function cloned(v: unknown, what: string, transfer: ArrayBuffer[] = []): { v: unknown } | Error {
  try {
    return { v: structuredClone(v, { transfer }) };
  } catch (err) {
    return new Error(
      `${what} cannot be sent back to the main thread (${err instanceof Error ? err.message : String(err)})`,
    );
  }
}

/**
 * What the job threw, as something piscina can post back as a failure. piscina reads a null
 * error as success (the caller would get a result of null), and an error that cannot be cloned
 * kills the worker with no message reaching the caller.
 */
function postableError(err: unknown): unknown {
  if (err === null || err === undefined) return new Error(`the job threw ${String(err)}`);
  if (err instanceof Error) return err;
  const c = cloned(err, 'the job threw a value that');
  return c instanceof Error ? c : err;
}

export default async function dispatch(task: JobTask): Promise<unknown> {
  const fn = await load(task.job);
  const t0 = performance.now();
  let value: unknown;
  try {
    value = await fn(task.input);
  } catch (err) {
    throw postableError(err);
  }
  const runMs = performance.now() - t0;
  // A result that structured clone rejects (a function, a symbol, an object holding one) would
  // make piscina's postMessage throw outside any task: the worker dies and the caller learns
  // nothing. Cloned here first, it fails this task with the reason and the worker lives on.
  // The large buffers are moved into the clone, not copied.
  if (
    (typeof value === 'object' && value !== null) ||
    typeof value === 'function' ||
    typeof value === 'symbol'
  ) {
    const c = cloned(value, "the job's result", transferables(value));
    if (c instanceof Error) throw c;
    value = c.v;
  }
  const result: JobResult = { value, runMs };
  const list = transferables(value);
  if (list.length === 0) return result;
  // Large output buffers are moved, not copied: piscina's own `move` marks the wrapper so that its
  // worker loop posts `result` with this transfer list. Loaded on first use (most jobs never need it).
  const piscina = await import('piscina');
  move ??= piscina.move as (v: object) => unknown;
  return move({ [piscina.transferableSymbol]: list, [piscina.valueSymbol]: result });
}

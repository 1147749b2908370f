/**
 * The worker pool: jobs (`routes/jobs/NAME.ts`) run on piscina worker threads so that CPU-heavy work
 * never blocks the event loop (Eio's `Domain_manager.run`).
 *
 * - **Admission.** At most `threads + queue` jobs are in the pool at once (running + queued); one
 *   more is refused at once with SY_ERR_POOL_FULL (503, `Retry-After: 1`). We count ourselves
 *   rather than rely on piscina's `maxQueue`: piscina 5.3 parks a task that carries an AbortSignal
 *   in an internal skip-queue that `maxQueue` does not count (measured: maxQueue 2, six tasks with
 *   a signal, all six queued), and every task here carries one.
 * - **Cancellation.** `run(name, input, {signal})`: when the signal aborts, the caller's promise
 *   rejects at once with the signal's reason (the request's cancel reason: client gone, timeout,
 *   drain). piscina then cleans up by the task's state: a queued task is dropped, a running one has
 *   its worker terminated (no cleanup inside the job) and a replacement is started later
 *   (measured here: rejection ≈ 0.3–1 ms after the client closed, the burn stopped within 0–5 ms,
 *   see test/pool/abort.test.ts; a replacement boots in ≈ 35–90 ms).
 * - **Threads.** Created on the first job (or by `warm()`, as a TCP job listener does), not at
 *   start-up: most servers in tests never run one. `minThreads` 1, up to `pool.threads` (auto =
 *   cores − 1, at least 1); threads beyond one retire after `pool.idle` without work (piscina's
 *   default of 0 would respawn them constantly).
 * - **Data.** Inputs and outputs are structured-cloned; buffers ≥ 64 KiB are transferred (moved,
 *   detached on the sending side) — see transfer.ts.
 * - **Inline.** `{inline: true}` runs the job on the calling thread (for side-by-side measurement
 *   only: it blocks the event loop for the whole job, and cannot be interrupted; an abort still
 *   releases the caller of an asynchronous job at once).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { packageRoot } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { asSwitchyardError, type SwitchyardError, syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { Logs } from '../observe/log.js';
import { onCancel } from '../runtime/on-cancel.js';
import type { JobRunner } from '../services.js';
import { discoverJobs, type JobEntry } from './registry.js';
import { JobCounters, type JobTiming, type PoolStats, recordOnExchange } from './stats.js';
import { transferables } from './transfer.js';
import type { JobResult, JobTask } from './worker.js';

export type { JobCounters, JobSnapshot, PoolStats } from './stats.js';
export { JobTiming } from './stats.js';

export interface JobRunOptions {
  /** aborts the job: dequeued if waiting, its worker terminated if running */
  signal?: AbortSignal | undefined;
  /** run on the calling thread (the route's `inline: true`) */
  inline?: boolean | undefined;
  /** the request: job name and timings go into its access-log line */
  ex?: Exchange | undefined;
  /** an accumulator for callers without an exchange (the TCP listener) */
  timing?: JobTiming | undefined;
}

/** `pool.threads: auto` → cores − 1, at least 1 (the event loop keeps a core). */
export function autoThreads(): number {
  return Math.max(1, availableParallelism() - 1);
}

/** The compiled worker beside this file; from the TS sources (vitest), the built one in dist/. */
function workerFile(): string {
  const here = fileURLToPath(new URL('./worker.js', import.meta.url));
  return existsSync(here) ? here : join(packageRoot, 'dist', 'src', 'pool', 'worker.js');
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

/** `p`, or a rejection with the signal's reason as soon as it aborts. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (signal === undefined) return p;
  return new Promise<T>((resolve, reject) => {
    const off = onCancel(signal, reject);
    p.then(resolve, reject).finally(off);
  });
}

/** The outcome of an aborted job: the signal's reason, as one of our errors. */
function cancelReason(signal: AbortSignal): SwitchyardError {
  const r: unknown = signal.reason;
  const err = asSwitchyardError(r);
  return err.code === 'SY_ERR_HANDLER' ? syError('SY_ERR_CANCELLED', undefined, { cause: r }) : err;
}

/** One piscina pool and the tasks on it; a reload that changes jobs starts a new one. */
interface Generation {
  readonly piscina: Piscina<JobTask, JobResult>;
  active: number;
  retired: boolean;
}

/** What a reload will switch to (see `prepare` / `commit`). */
export interface PoolChange {
  jobs: Map<string, JobEntry>;
  config: Config;
  /** jobs or thread settings differ: a new piscina pool for the new generation */
  restart: boolean;
}

function checkListenerJobs(config: Config, routesDir: string, jobs: Map<string, JobEntry>): void {
  config.listen.forEach((l, i) => {
    if (l.job !== undefined && !jobs.has(l.job)) {
      throw new Error(`listen[${i}].job: unknown job "${l.job}" (no ${join(routesDir, 'jobs', l.job)}.js)`);
    }
  });
}

export class JobPool implements JobRunner {
  /** the registered jobs, by name (replaced by a reload) */
  jobs: ReadonlyMap<string, JobEntry>;
  maxThreads: number;
  /** queued jobs allowed beyond one per thread */
  queueLimit: number;
  idleMs: number;
  /** the server's shutdown grace (the TCP listener's default drain time) */
  graceMs: number;
  private readonly logs: Logs;
  private readonly counters = new Map<string, JobCounters>();
  private gen: Generation | undefined = undefined;
  /** retired generations with tasks still running */
  private readonly retiring = new Set<Generation>();
  /** jobs handed to piscina and not yet settled (running + queued) */
  private inPool = 0;
  private closed = false;

  private constructor(jobs: Map<string, JobEntry>, config: Config, logs: Logs) {
    this.jobs = jobs;
    this.maxThreads = config.pool.threads === 'auto' ? autoThreads() : config.pool.threads;
    this.queueLimit = config.pool.queue;
    this.idleMs = config.pool.idle;
    this.graceMs = config.shutdown.grace;
    this.logs = logs;
    for (const name of jobs.keys()) this.counters.set(name, new JobCounters());
  }

  /**
   * Discover and load the job modules of `<routesDir>/jobs/`. Throws when a module fails to load
   * or a tcp listener names a job that does not exist. Starts no thread.
   */
  static async start(config: Config, routesDir: string, logs: Logs): Promise<JobPool> {
    const jobs = await discoverJobs(routesDir);
    checkListenerJobs(config, routesDir, jobs);
    return new JobPool(jobs, config, logs);
  }

  /** Most jobs the pool holds at once (running + queued); one more is refused with 503. */
  get capacity(): number {
    return this.maxThreads + this.queueLimit;
  }

  /**
   * Run job `name` on `input`; resolves with its output. Rejects with SY_ERR_UNKNOWN_JOB,
   * SY_ERR_POOL_FULL (503, Retry-After), SY_ERR_JOB_FAILED (the job threw or its worker died;
   * the job's error is the `cause`), or the signal's reason when aborted (even if the job would
   * have finished in the same instant: the abort wins once it is seen).
   */
  run<T = unknown>(name: string, input: unknown, opts: JobRunOptions = {}): Promise<T> {
    const job = this.jobs.get(name);
    if (job === undefined) return Promise.reject(syError('SY_ERR_UNKNOWN_JOB', `unknown job "${name}"`));
    const c = this.counters.get(name)!;
    const signal = opts.signal;
    if (signal?.aborted) {
      c.cancelled++;
      return Promise.reject(cancelReason(signal));
    }
    if (this.closed) return Promise.reject(syError('SY_ERR_SHUTTING_DOWN', 'the worker pool is closed'));
    if (opts.inline) return this.runInline<T>(job, c, input, opts);
    if (this.inPool >= this.capacity) {
      c.rejected++;
      const err = syError(
        'SY_ERR_POOL_FULL',
        `job "${name}": pool full (${this.inPool} jobs: ${this.maxThreads} threads + queue ${this.queueLimit})`,
      );
      err.headers = { 'retry-after': '1' };
      return Promise.reject(err);
    }
    return this.runPooled<T>(job, c, input, opts);
  }

  private async runPooled<T>(job: JobEntry, c: JobCounters, input: unknown, opts: JobRunOptions): Promise<T> {
    const gen = (this.gen ??= this.createGeneration());
    const t0 = performance.now();
    this.inPool++;
    gen.active++;
    try {
      const r = await gen.piscina.run(
        { job: job.name, input },
        { signal: opts.signal ?? null, transferList: transferables(input) },
      );
      const total = performance.now() - t0;
      const waitMs = Math.max(0, total - r.runMs);
      c.done(waitMs, r.runMs);
      recordOnExchange(opts.ex, job.name, waitMs, r.runMs, false);
      opts.timing?.add(waitMs, r.runMs);
      return r.value as T;
    } catch (err) {
      throw this.failure(job.name, c, err, opts);
    } finally {
      this.inPool--;
      if (--gen.active === 0 && gen.retired) this.destroy(gen);
    }
  }

  private destroy(gen: Generation): void {
    this.retiring.delete(gen);
    gen.piscina.destroy().catch((err: unknown) => {
      this.logs.error.warn({ err }, 'worker pool: closing a retired pool failed');
    });
  }

  /**
   * Reload, step 1 (nothing changes yet): discover the jobs of `routesDir` (changed modules get a
   * new URL, so new workers load them fresh). Throws as `start` does.
   */
  async prepare(config: Config, routesDir: string): Promise<PoolChange> {
    const jobs = await discoverJobs(routesDir);
    checkListenerJobs(config, routesDir, jobs);
    const threads = config.pool.threads === 'auto' ? autoThreads() : config.pool.threads;
    let restart =
      threads !== this.maxThreads || config.pool.idle !== this.idleMs || jobs.size !== this.jobs.size;
    for (const [name, j] of jobs) if (this.jobs.get(name)?.url !== j.url) restart = true;
    return { jobs, config, restart };
  }

  /**
   * Reload, step 2: new jobs run on the new job set. With `restart`, a new piscina pool takes the
   * new jobs and the old one is destroyed once its last task has settled (tasks in flight finish
   * on the code they started with).
   */
  commit(change: PoolChange): void {
    const { config, jobs } = change;
    this.queueLimit = config.pool.queue;
    this.graceMs = config.shutdown.grace;
    if (!change.restart) return;
    this.jobs = jobs;
    this.maxThreads = config.pool.threads === 'auto' ? autoThreads() : config.pool.threads;
    this.idleMs = config.pool.idle;
    for (const name of jobs.keys()) if (!this.counters.has(name)) this.counters.set(name, new JobCounters());
    const old = this.gen;
    this.gen = undefined;
    if (old !== undefined) {
      old.retired = true;
      if (old.active === 0) this.destroy(old);
      else this.retiring.add(old);
      this.warm(); // it had threads: keep the first job of the new generation from waiting for a boot
    }
  }

  private async runInline<T>(job: JobEntry, c: JobCounters, input: unknown, opts: JobRunOptions): Promise<T> {
    const t0 = performance.now();
    try {
      // A synchronous job cannot be interrupted, but the wait for an asynchronous one can: the
      // caller is released on abort, as on the pool (else a job that never settles would hold
      // its request in flight for good, past its timeout and the drain).
      const value = await untilAborted((async () => job.fn(input))(), opts.signal);
      const runMs = performance.now() - t0;
      c.done(0, runMs);
      recordOnExchange(opts.ex, job.name, 0, runMs, true);
      opts.timing?.add(0, runMs);
      return value as T;
    } catch (err) {
      throw this.failure(job.name, c, err, opts);
    }
  }

  private failure(name: string, c: JobCounters, err: unknown, opts: JobRunOptions): SwitchyardError {
    recordOnExchange(opts.ex, name, 0, 0, opts.inline === true, false);
    if (opts.signal?.aborted && (isAbort(err) || opts.signal.reason === err)) {
      c.cancelled++;
      opts.timing?.cancel();
      return cancelReason(opts.signal);
    }
    c.failed++;
    opts.timing?.fail();
    const msg = err instanceof Error ? err.message : String(err);
    return syError('SY_ERR_JOB_FAILED', `job "${name}" failed: ${msg}`, { cause: err });
  }

  private createGeneration(): Generation {
    return { piscina: this.createPiscina(), active: 0, retired: false };
  }

  private createPiscina(): Piscina<JobTask, JobResult> {
    const jobs: Record<string, string> = {};
    for (const [name, j] of this.jobs) jobs[name] = j.url;
    const p = new Piscina<JobTask, JobResult>({
      filename: workerFile(),
      name: 'default',
      minThreads: 1,
      maxThreads: this.maxThreads,
      idleTimeout: this.idleMs,
      // Admission is ours (see the top of this file); piscina's own limit would not hold anyway.
      maxQueue: Number.POSITIVE_INFINITY,
      concurrentTasksPerWorker: 1,
      workerData: { jobs },
      recordTiming: true,
    });
    // A worker that dies with no task on it is reported here; without a listener it would crash us.
    p.on('error', (err: unknown) => {
      this.logs.error.error({ err }, 'worker pool: a worker failed');
    });
    return p;
  }

  /**
   * Start the threads now rather than on the first job (the TCP job listener does this: its
   * first client should not wait ≈ 50 ms for a worker to boot). No-op once started or closed.
   */
  warm(): void {
    if (!this.closed && this.jobs.size > 0) this.gen ??= this.createGeneration();
  }

  /** The thread ids of the current generation's workers (tests watch a terminated one go). */
  threadIds(): number[] {
    return this.gen === undefined ? [] : this.gen.piscina.threads.map((w) => w.threadId);
  }

  /** Counters and gauges for metrics (cheap; read it as often as you like). */
  stats(): PoolStats {
    const p = this.gen?.piscina;
    const queued = p === undefined ? 0 : Math.min(p.queueSize, this.inPool);
    const jobs: PoolStats['jobs'] = {};
    let completed = 0;
    let failed = 0;
    let cancelled = 0;
    let rejected = 0;
    for (const [name, c] of this.counters) {
      jobs[name] = c.snapshot();
      completed += c.count;
      failed += c.failed;
      cancelled += c.cancelled;
      rejected += c.rejected;
    }
    return {
      threads: p === undefined ? 0 : p.threads.length,
      maxThreads: this.maxThreads,
      capacity: this.capacity,
      queued,
      running: this.inPool - queued,
      busy: (this.inPool - queued) / this.maxThreads,
      utilization: p === undefined ? 0 : p.utilization,
      completed,
      failed,
      cancelled,
      rejected,
      jobs,
    };
  }

  /**
   * Stop: refuse new jobs, fail what is still queued or running and terminate the threads. Called
   * after the server has drained its requests, so normally nothing is left to fail.
   */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.retiring].map((g) => g.piscina);
    if (this.gen !== undefined) all.push(this.gen.piscina);
    this.gen = undefined;
    this.retiring.clear();
    await Promise.all(all.map((p) => p.destroy()));
  }
}

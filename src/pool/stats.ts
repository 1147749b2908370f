/**
 * What the pool records: per-job counters (for metrics, via `JobPool.stats()`), the job fields of a
 * request's access-log line, and a per-connection accumulator for the TCP listener's log line.
 *
 * Queue wait = the job's whole time in the pool minus the run time its worker measured, so it also
 * holds the two thread hops and the structured clones (≈ 20–60 µs for a small task here).
 */
import type { Exchange } from '../exchange.js';

const ms = (v: number): number => Math.round(v * 1000) / 1000;

/** Per job, since start-up. */
export class JobCounters {
  /** completed successfully */
  count = 0;
  /** the job threw, or its worker died */
  failed = 0;
  /** aborted by the caller's signal (queued or running) */
  cancelled = 0;
  /** refused because the pool was full */
  rejected = 0;
  waitMs = 0;
  runMs = 0;
  maxWaitMs = 0;

  done(waitMs: number, runMs: number): void {
    this.count++;
    this.waitMs += waitMs;
    this.runMs += runMs;
    if (waitMs > this.maxWaitMs) this.maxWaitMs = waitMs;
  }

  snapshot(): JobSnapshot {
    return {
      count: this.count,
      failed: this.failed,
      cancelled: this.cancelled,
      rejected: this.rejected,
      wait_ms: ms(this.waitMs),
      run_ms: ms(this.runMs),
      max_wait_ms: ms(this.maxWaitMs),
    };
  }
}

export interface JobSnapshot {
  count: number;
  failed: number;
  cancelled: number;
  rejected: number;
  /** total queue wait of the completed jobs */
  wait_ms: number;
  /** total run time of the completed jobs */
  run_ms: number;
  max_wait_ms: number;
}

export interface PoolStats {
  /** threads alive now (0 until the first job) */
  threads: number;
  maxThreads: number;
  /** most jobs held at once (threads + queue) */
  capacity: number;
  queued: number;
  running: number;
  /** running / maxThreads, now */
  busy: number;
  /** piscina's utilization: run time / (elapsed × maxThreads), since the pool started */
  utilization: number;
  completed: number;
  failed: number;
  cancelled: number;
  rejected: number;
  jobs: Record<string, JobSnapshot>;
}

/** Job timings summed over several jobs (one TCP connection's). */
export class JobTiming {
  jobs = 0;
  failed = 0;
  cancelled = 0;
  waitMs = 0;
  runMs = 0;

  add(waitMs: number, runMs: number): void {
    this.jobs++;
    this.waitMs += waitMs;
    this.runMs += runMs;
  }

  fail(): void {
    this.failed++;
  }

  cancel(): void {
    this.cancelled++;
  }

  fields(): Record<string, number> {
    return {
      jobs: this.jobs,
      jobs_failed: this.failed,
      jobs_cancelled: this.cancelled,
      job_wait_ms: ms(this.waitMs),
      job_run_ms: ms(this.runMs),
    };
  }
}

/**
 * Put a job's name and timings on the request's access-log line: `job`, `job_wait_ms`,
 * `job_run_ms` (and `job_inline: true`). A handler that runs several jobs gets their names joined
 * with "," and their times summed. `ok: false` (failed or cancelled) records the name only.
 */
export function recordOnExchange(
  ex: Exchange | undefined,
  name: string,
  waitMs: number,
  runMs: number,
  inline: boolean,
  ok = true,
): void {
  if (ex === undefined) return;
  const extra = (ex.logExtra ??= {});
  const prev = extra.job;
  extra.job = prev === undefined ? name : `${prev as string},${name}`;
  if (ok) {
    extra.job_wait_ms = ms(((extra.job_wait_ms as number | undefined) ?? 0) + waitMs);
    extra.job_run_ms = ms(((extra.job_run_ms as number | undefined) ?? 0) + runMs);
  }
  if (inline) extra.job_inline = true;
}

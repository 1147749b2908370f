/**
 * One job pool for the process: acceptor threads run jobs on the supervisor's piscina pool over a
 * MessagePort (request/response with an abort message), so `pool.threads` and `pool.queue` are
 * process-wide limits, not per acceptor.
 *
 * Cancellation crosses the hop: when the request's signal aborts, the acceptor rejects at once
 * with the signal's reason (as the pool does) and posts `{abort: id}`; the supervisor aborts its
 * own controller for the job, so piscina drops it if queued or terminates its worker if running —
 * today's bound plus one message hop (≈ 0.1 ms).
 *
 * Races: a result and an abort crossing in the ports — the acceptor has already rejected and
 * ignores the late result; the supervisor ignores an abort for a job it has finished.
 */
import type { MessagePort } from 'node:worker_threads';
import { asSwitchyardError, type ErrorCode, type SwitchyardError, syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { JobPool } from '../pool/index.js';
import { JobTiming, recordOnExchange } from '../pool/stats.js';
import { transferables } from '../pool/transfer.js';
import type { JobRunner } from '../services.js';
import type { JobRequest, JobResponse } from './messages.js';

function cancelReason(signal: AbortSignal): SwitchyardError {
  const err = asSwitchyardError(signal.reason);
  return err.code === 'SY_ERR_HANDLER'
    ? syError('SY_ERR_CANCELLED', undefined, { cause: signal.reason })
    : err;
}

interface Pending {
  name: string;
  ex: Exchange | undefined;
  resolve(v: unknown): void;
  reject(e: unknown): void;
  cleanup(): void;
}

/** The acceptor's side: a JobRunner that forwards to the supervisor's pool. */
export class RemoteJobs implements JobRunner {
  private readonly port: MessagePort;
  /** for `inline: true` routes (run on this thread, as without threads) */
  private readonly local: JobPool;
  private readonly pending = new Map<number, Pending>();
  private next = 1;

  constructor(port: MessagePort, local: JobPool) {
    this.port = port;
    this.local = local;
    port.on('message', (m: JobResponse) => this.settle(m));
    port.unref(); // only jobs in flight keep the thread busy, through their requests
  }

  run<T = unknown>(
    name: string,
    input: unknown,
    opts: { signal: AbortSignal; inline: boolean; ex: Exchange },
  ): Promise<T> {
    if (opts.inline) return this.local.run<T>(name, input, opts);
    const { signal, ex } = opts;
    if (signal.aborted) return Promise.reject(cancelReason(signal));
    const id = this.next++;
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => {
        this.pending.delete(id);
        this.port.postMessage({ abort: id } satisfies JobRequest);
        recordOnExchange(ex, name, 0, 0, false, false);
        reject(cancelReason(signal));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(id, {
        name,
        ex,
        resolve: resolve as (v: unknown) => void,
        reject,
        cleanup: () => signal.removeEventListener('abort', onAbort),
      });
      this.port.postMessage({ id, name, input } satisfies JobRequest, transferables(input));
    });
  }

  private settle(m: JobResponse): void {
    const p = this.pending.get(m.id);
    if (p === undefined) return; // aborted here already
    this.pending.delete(m.id);
    p.cleanup();
    if (m.ok) {
      recordOnExchange(p.ex, p.name, m.waitMs, m.runMs, false);
      p.resolve(m.value);
    } else {
      recordOnExchange(p.ex, p.name, 0, 0, false, false);
      const err = syError(m.code as ErrorCode, m.message);
      if (m.headers !== undefined) err.headers = m.headers;
      p.reject(err);
    }
  }
}

/** The supervisor's side: serve one acceptor's job requests on `pool`. */
export function serveJobs(port: MessagePort, pool: JobPool): void {
  const running = new Map<number, AbortController>();
  // The acceptor is gone (crashed or exited): nothing is waiting for its jobs any more.
  port.on('close', () => {
    for (const ac of running.values()) ac.abort(syError('SY_ERR_CLIENT_GONE'));
    running.clear();
  });
  port.on('message', (m: JobRequest) => {
    if ('abort' in m) {
      running.get(m.abort)?.abort(syError('SY_ERR_CLIENT_GONE'));
      return;
    }
    const ac = new AbortController();
    running.set(m.id, ac);
    const timing = new JobTiming();
    pool.run(m.name, m.input, { signal: ac.signal, timing }).then(
      (value) => {
        running.delete(m.id);
        if (ac.signal.aborted) return;
        port.postMessage(
          { id: m.id, ok: true, value, waitMs: timing.waitMs, runMs: timing.runMs } satisfies JobResponse,
          transferables(value),
        );
      },
      (err: unknown) => {
        running.delete(m.id);
        if (ac.signal.aborted) return;
        const e = asSwitchyardError(err);
        port.postMessage({
          id: m.id,
          ok: false,
          code: e.code,
          message: e.message,
          headers: e.headers,
        } satisfies JobResponse);
      },
    );
  });
}

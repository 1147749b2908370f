/**
 * One view of the process for /metrics, the status page and readiness with acceptor threads.
 * Every thread keeps its own counters (no shared writes per request); a scrape on any thread is
 * forwarded to the supervisor, which asks every live thread for a snapshot of its records
 * (`collect`), sums them and answers with the whole process's exposition or status — the same
 * text whichever thread the balancer or Prometheus happened to reach. Readiness changes made in
 * the main thread (a stop's `shutdown.delay`) are broadcast so every thread's probe says the same.
 * Test: test/ops/threads-view.test.ts.
 */
import type { MessagePort, Worker } from 'node:worker_threads';
import type { StatsSnapshot } from '../observe/metrics.js';
import type { FromAcceptor, ToAcceptor } from './messages.js';

/** A thread that does not answer within this is left out of the sum (it is crashing or stuck). */
const COLLECT_MS = 2000;

interface Pending {
  left: Set<number>;
  snaps: StatsSnapshot[];
  inflight: number;
  done: () => void;
}

/** Supervisor side: collect every thread's records; answer threads' scrapes. */
export class ScrapeHub {
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  /** renders a scrape for the whole process (the main thread's views, fed by `collect`) */
  render: ((kind: 'metrics' | 'status') => Promise<unknown>) | undefined = undefined;

  /** Every live thread's snapshot (threads that do not answer in time are left out). */
  collect(workers: (Worker | undefined)[]): Promise<{ snaps: StatsSnapshot[]; inflight: number }> {
    const seq = ++this.seq;
    const live = workers.flatMap((w, i) => (w === undefined ? [] : [i]));
    return new Promise((resolve) => {
      const p: Pending = { left: new Set(live), snaps: [], inflight: 0, done: () => {} };
      const finish = () => {
        clearTimeout(timer);
        this.pending.delete(seq);
        resolve({ snaps: p.snaps, inflight: p.inflight });
      };
      const timer = setTimeout(finish, COLLECT_MS);
      p.done = finish;
      this.pending.set(seq, p);
      if (live.length === 0) return finish();
      for (const i of live) workers[i]!.postMessage({ type: 'collect', seq } satisfies ToAcceptor);
    });
  }

  /** A message from thread `i`; true when it was one of ours. */
  handle(i: number, m: FromAcceptor, worker: Worker): boolean {
    if (m.type === 'stats') {
      const p = this.pending.get(m.seq);
      if (p === undefined || !p.left.delete(i)) return true;
      p.snaps.push(m.snap);
      p.inflight += m.inflight;
      if (p.left.size === 0) p.done();
      return true;
    }
    if (m.type === 'scrape') {
      const reply = (r: { result?: unknown; error?: string }) =>
        worker.postMessage({ type: 'scraped', id: m.id, ...r } satisfies ToAcceptor);
      if (this.render === undefined) reply({ error: 'no views in the supervisor' });
      else
        this.render(m.kind).then(
          (result) => reply({ result }),
          (err: unknown) => reply({ error: (err as Error).message }),
        );
      return true;
    }
    return false;
  }
}

/** Acceptor side: answer `collect`, forward scrapes, follow readiness. */
export class ScrapeClient {
  private id = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly port: MessagePort;

  constructor(port: MessagePort) {
    this.port = port;
  }

  /** The process-wide answer to a metrics or status request on this thread. */
  scrape = (kind: 'metrics' | 'status'): Promise<unknown> =>
    new Promise((resolve, reject) => {
      const id = ++this.id;
      this.waiting.set(id, { resolve, reject });
      this.port.postMessage({ type: 'scrape', id, kind } satisfies FromAcceptor);
    });

  /** A message from the supervisor; true when it was one of ours. */
  handle(
    m: ToAcceptor,
    here: {
      snapshot(): StatsSnapshot;
      inflight(): number;
      setReadiness(s: 'starting' | 'ready' | 'draining'): void;
    },
  ): boolean {
    if (m.type === 'collect') {
      const msg: FromAcceptor = {
        type: 'stats',
        seq: m.seq,
        snap: here.snapshot(),
        inflight: here.inflight(),
      };
      this.port.postMessage(msg);
      return true;
    }
    if (m.type === 'scraped') {
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(m.error));
      else w?.resolve(m.result);
      return true;
    }
    if (m.type === 'readiness') {
      here.setReadiness(m.state);
      return true;
    }
    return false;
  }
}

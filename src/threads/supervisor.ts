/**
 * The supervisor (`threads: N`, N > 1): the main thread keeps config, signals, drain, logs, the
 * job pool and the shared regions, and runs N acceptor threads (acceptor.ts), each with its own
 * engine on the same ports (SO_REUSEPORT: the kernel spreads new connections across them), its
 * own pipeline, route table and upstream pools.
 *
 * - **Start.** Every http port is claimed exclusively first (port-guard.ts: a second process
 *   still gets today's start-up error; port 0 is chosen once), then the acceptors start and
 *   listen; `start` resolves when all listen, or rejects (stopping the others) if one fails.
 * - **Crash.** An uncaught exception ends that acceptor only. The supervisor logs it, zeroes that
 *   thread's in-flight counts in the shared region (its requests died with it), and starts a
 *   replacement with the same index after a short pause (doubling, up to 5 s, while crashes
 *   repeat within a minute; a replacement that fails to start is retried the same way). The
 *   process and the other threads keep serving.
 * - **Drain.** `drain(grace)` asks every acceptor to drain (stop accepting, finish in-flight
 *   requests for up to `grace`) and resolves when all have; no replacement starts after it.
 * - **Reload.** `reload(loaded)` hands every acceptor the new config and a new table region;
 *   each compiles its table beside the old one and swaps (RouteTable's retire). Replacements
 *   started later get the new config. Listeners are not changed by a reload.
 * - **Relay.** A `relay` message from one acceptor is passed to every other (WebSocket pub/sub
 *   across threads will ride on it).
 */

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { LoadedConfig } from '../config/load.js';
import { packageRoot } from '../config/load.js';
import type { Logs } from '../observe/log.js';
import type { JobPool } from '../pool/index.js';
import { threadGauges } from '../region/plan.js';
import type { SharedRegion } from '../region/region.js';
import type { Address } from '../server/engine.js';
import { ListenError } from '../server/engine.js';
import { serveJobs } from './jobs.js';
import { relaySink } from './log-relay.js';
import type { AcceptorInit, FromAcceptor, ToAcceptor } from './messages.js';
import { claimPort } from './port-guard.js';
import { ScrapeHub } from './scrape.js';

export interface SupervisorOptions {
  threads: number;
  logs: Logs;
  pool: JobPool;
  shared: SharedRegion;
  /** the current route table's region (replaced by `reload`) */
  table: SharedRegion;
}

/** The compiled acceptor beside this file; from the TS sources (vitest), the built one in dist/. */
function acceptorFile(): string {
  const here = fileURLToPath(new URL('./acceptor.js', import.meta.url));
  return existsSync(here) ? here : join(packageRoot, 'dist', 'src', 'threads', 'acceptor.js');
}

interface Slot {
  worker: Worker | undefined;
  /** requests served per thread are in the access log; this counts starts, for the backoff */
  starts: number;
  lastCrash: number;
  backoff: number;
}

export class Supervisor {
  readonly listening: Address[] = [];
  private loaded: LoadedConfig;
  private readonly opts: SupervisorOptions;
  private readonly slots: Slot[];
  private readonly sink: (kind: 'error' | 'access', text: string) => void;
  private draining = false;
  private readonly drained = new Set<number>();
  private onAllDrained: (() => void) | undefined = undefined;
  private reloadSeq = 0;
  /** metrics and status for the whole process (scrape.ts) */
  readonly scrape = new ScrapeHub();
  /** the process's readiness, as every thread's probe answers it */
  private readiness: 'starting' | 'ready' | 'draining' = 'ready';
  private readonly reloads = new Map<
    number,
    /** `waiting`: the acceptors the reload was sent to that have not answered yet */
    { waiting: Set<Worker>; errors: string[]; done: (errors: string[]) => void }
  >();

  private constructor(loaded: LoadedConfig, opts: SupervisorOptions) {
    this.loaded = loaded;
    this.opts = opts;
    this.slots = Array.from({ length: opts.threads }, () => ({
      worker: undefined,
      starts: 0,
      lastCrash: 0,
      backoff: 100,
    }));
    this.sink = relaySink(opts.logs);
  }

  /** Claim the ports, start the acceptors; resolves when every one listens. */
  static async start(loaded: LoadedConfig, opts: SupervisorOptions): Promise<Supervisor> {
    const listen = [];
    for (const l of loaded.config.listen) {
      if (l.kind !== 'http') {
        listen.push(l);
        continue;
      }
      const port = await claimPort(l.host, l.port);
      listen.push({ ...l, port });
    }
    const resolved: LoadedConfig = { ...loaded, config: { ...loaded.config, listen } };
    const sup = new Supervisor(resolved, opts);
    try {
      await Promise.all(sup.slots.map((_, i) => sup.spawn(i)));
    } catch (err) {
      await sup.terminate();
      throw err;
    }
    for (const l of listen) if (l.kind === 'http') sup.listening.push({ host: l.host, port: l.port });
    opts.logs.error.info({ threads: opts.threads }, `${opts.threads} acceptor threads`);
    return sup;
  }

  /** Acceptor threads, fixed at start (a reload keeps their number). */
  get threads(): number {
    return this.slots.length;
  }

  /** Start acceptor `i`; resolves when it listens, rejects if it fails to. */
  private spawn(i: number): Promise<void> {
    const slot = this.slots[i]!;
    const jobs = new MessageChannel();
    serveJobs(jobs.port1, this.opts.pool);
    const init: AcceptorInit = {
      index: i,
      of: this.slots.length,
      loaded: this.loaded,
      shared: this.opts.shared.handoff(),
      table: this.opts.table.handoff(),
      jobs: jobs.port2,
    };
    const worker = new Worker(acceptorFile(), {
      workerData: init,
      transferList: [jobs.port2],
      name: `acceptor-${i}`,
    });
    slot.worker = worker;
    slot.starts++;
    return new Promise<void>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: FromAcceptor) => {
        switch (m.type) {
          case 'log':
            this.sink(m.kind, m.text);
            break;
          case 'listening':
            ready = true;
            // a replacement started during a stop's delay must not say it is ready
            if (this.readiness !== 'ready') worker.postMessage({ type: 'readiness', state: this.readiness });
            resolve();
            break;
          case 'failed':
            reject(new ListenError(m.message));
            break;
          case 'drained':
            this.drained.add(i);
            this.checkDrained();
            break;
          case 'reloaded': {
            const r = this.reloads.get(m.seq);
            if (r === undefined || !r.waiting.delete(worker)) break;
            if (m.error !== undefined) r.errors.push(`thread ${i}: ${m.error}`);
            if (r.waiting.size === 0) {
              this.reloads.delete(m.seq);
              r.done(r.errors);
            }
            break;
          }
          case 'relay':
            this.broadcast({ type: 'relay', from: i, data: m.data }, i);
            break;
          default:
            this.scrape.handle(i, m, worker);
        }
      });
      worker.on('error', (err) => {
        this.opts.logs.error.error({ err, thread: i }, `acceptor thread ${i} crashed`);
        if (!ready) reject(err);
      });
      worker.on('exit', (code) => {
        jobs.port1.close();
        // Only a thread that has not answered counts as lost to a reload (one that already swapped
        // its table, or was started after the reload with the new config, is not).
        for (const [seq, r] of this.reloads) {
          if (!r.waiting.delete(worker)) continue;
          r.errors.push(`thread ${i}: exited during the reload (its replacement starts with the new config)`);
          if (r.waiting.size === 0) {
            this.reloads.delete(seq);
            r.done(r.errors);
          }
        }
        if (slot.worker !== worker) return;
        slot.worker = undefined;
        if (!ready) {
          reject(new Error(`acceptor thread ${i} exited (code ${code}) before listening`));
          // A replacement that failed to start (a module being replaced on disk, a transient
          // bind error) must not leave the process a thread short for good: try again.
          if (slot.starts > 1 && !this.draining) this.replace(i, code);
          return;
        }
        if (this.draining) {
          this.drained.add(i);
          this.checkDrained();
          return;
        }
        this.replace(i, code);
      });
    });
  }

  /** A running acceptor died: zero its in-flight counts, start another after a pause. */
  private replace(i: number, code: number): void {
    const slot = this.slots[i]!;
    for (const g of threadGauges(this.opts.table.layout, i)) this.opts.table.gauge(g).set(0);
    const now = Date.now();
    slot.backoff = now - slot.lastCrash < 60_000 ? Math.min(slot.backoff * 2, 5000) : 100;
    slot.lastCrash = now;
    this.opts.logs.error.warn(
      { thread: i, code, in_ms: slot.backoff },
      `acceptor thread ${i} exited: restarting`,
    );
    setTimeout(() => {
      if (this.draining) return;
      this.spawn(i).then(
        () => this.opts.logs.error.info({ thread: i }, `acceptor thread ${i} back`),
        (err: unknown) =>
          this.opts.logs.error.error({ err, thread: i }, `acceptor thread ${i} failed to restart`),
      );
    }, slot.backoff).unref();
  }

  /**
   * Route every acceptor with `loaded` (its listeners must be the current ones). `table`: the new
   * generation's table region (`tableLayout(config, threads)`). Resolves with the acceptors'
   * errors, [] when every thread routes with the new table.
   */
  reload(loaded: LoadedConfig, table: SharedRegion): Promise<string[]> {
    this.loaded = { ...loaded, config: { ...loaded.config, listen: this.loaded.config.listen } };
    this.opts.table = table;
    const live = this.slots.flatMap((s) => (s.worker === undefined ? [] : [s.worker]));
    if (live.length === 0) return Promise.resolve([]);
    const seq = ++this.reloadSeq;
    return new Promise((done) => {
      this.reloads.set(seq, { waiting: new Set(live), errors: [], done });
      this.broadcast({ type: 'reload', seq, loaded: this.loaded, table: table.handoff() });
    });
  }

  /** Every thread's records and requests in flight (for one view of the process). */
  collect(): ReturnType<ScrapeHub['collect']> {
    return this.scrape.collect(this.slots.map((s) => s.worker));
  }

  /** The process's readiness: every thread's probe answers `state` from now on. */
  setReadiness(state: 'starting' | 'ready' | 'draining'): void {
    this.readiness = state;
    this.broadcast({ type: 'readiness', state });
  }

  /** Post `m` to every acceptor (but `except`). */
  broadcast(m: ToAcceptor, except = -1): void {
    this.slots.forEach((s, i) => {
      if (i !== except) s.worker?.postMessage(m);
    });
  }

  /** Drain every acceptor: resolves when all have finished their requests (or their grace passed). */
  drain(graceMs: number): Promise<void> {
    this.draining = true;
    return new Promise<void>((resolve) => {
      this.onAllDrained = resolve;
      this.slots.forEach((s, i) => {
        if (s.worker === undefined) this.drained.add(i);
      });
      this.broadcast({ type: 'drain', grace: graceMs });
      this.checkDrained();
    }).then(() => this.terminate());
  }

  private checkDrained(): void {
    if (this.onAllDrained !== undefined && this.drained.size >= this.slots.length) {
      const done = this.onAllDrained;
      this.onAllDrained = undefined;
      done();
    }
  }

  /**
   * End every acceptor. Never `worker.terminate()` one that may hold sockets (uWS aborts the
   * process then): ask it to close them and exit; terminate only what has not exited in 2 s.
   */
  private async terminate(): Promise<void> {
    this.draining = true;
    await Promise.all(
      this.slots.map(async (s) => {
        const w = s.worker;
        s.worker = undefined;
        if (w === undefined) return;
        const exited = new Promise<void>((r) => w.once('exit', () => r()));
        w.postMessage({ type: 'close' } satisfies ToAcceptor);
        const t = setTimeout(() => void w.terminate(), 2000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}

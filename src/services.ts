/**
 * What a compiled route can reach, declared once. Two lifetimes:
 *
 * - **process services** live as long as the process and are shared by every acceptor and every
 *   route table: the job pool, the log destinations, the `shared:` region. Nothing here is rebuilt
 *   on reload. With acceptor threads, each thread holds its own handles to the same things (the
 *   pool over a MessagePort, the region's memory, the log lines relayed to the supervisor).
 * - **table services** belong to one route table (one config generation): the upstream pools and
 *   their health checkers. A reload builds new ones beside the old; the old are closed once the
 *   requests that matched the old table have finished.
 *
 * This module declares interfaces only (no code), so tracks, the pool and the proxy depend on it
 * rather than on each other.
 */
import type { Dispatcher } from 'undici';
import type { Exchange } from './exchange.js';
import type { Logs } from './observe/log.js';
import type { Stats } from './observe/metrics.js';
import type { Upstreams } from './proxy/index.js';
import type { Shared, SharedRegion } from './region/index.js';

/** The worker pool as routes reach it (implemented by src/pool). */
export interface JobRunner {
  run<T = unknown>(
    name: string,
    input: unknown,
    opts: { signal: AbortSignal; inline: boolean; ex: Exchange },
  ): Promise<T>;
}

/** An upstream as handlers reach it: its undici dispatcher and the origin of its first server. */
export interface UpstreamHandle {
  readonly origin: string;
  readonly dispatcher: Dispatcher;
}

/** Scrape-time views of the process (src/observe): built by the server, read by the metrics and status tracks. */
export interface Views {
  /** the Prometheus exposition: content type and text */
  metrics(): Promise<{ type: string; text: string }>;
  /** the status page's JSON */
  status(): Promise<unknown>;
}

/** Per process: shared by every acceptor and every route table. */
export interface ProcessServices {
  logs: Logs;
  /** request and upstream counters, kept across reloads */
  stats: Stats;
  /** undefined where no server runs (tools, tests of a table alone) */
  views?: Views | undefined;
  /** the job pool; undefined where a process runs without one (tests) */
  jobs: JobRunner | undefined;
  /** application state shared by every handler of this thread (`ctx.state`); plain objects, not across threads */
  state: Record<string, unknown>;
  /** the `shared:` structures, the same memory in every acceptor thread (`ctx.shared`) */
  shared: Shared;
}

/** Per route table: what one config generation owns, plus the process services. */
export interface TableServices extends ProcessServices {
  /** the upstream pools of this table's `upstreams:` */
  upstreams: Upstreams;
  /** this table's shared words (route caps, rate limits, passive health), the same in every acceptor */
  region: SharedRegion;
}

/**
 * What the supervisor (main thread) and its acceptor threads say to each other. Two channels per
 * acceptor: the worker's own port (control, logs, relay) and a MessagePort for jobs (so a burst
 * of job traffic never queues behind log lines, and the protocol stays request/response).
 */
import type { MessagePort } from 'node:worker_threads';
import type { LoadedConfig } from '../config/load.js';
import type { StatsSnapshot } from '../observe/metrics.js';
import type { RegionHandoff } from '../region/region.js';

/** workerData of an acceptor thread. */
export interface AcceptorInit {
  /** 0-based; also this thread's share of each upstream's connections */
  index: number;
  of: number;
  /** the config, listen ports resolved (port 0 already chosen by the supervisor) */
  loaded: LoadedConfig;
  shared: RegionHandoff;
  table: RegionHandoff;
  jobs: MessagePort;
}

/** Supervisor → acceptor. */
export type ToAcceptor =
  | { type: 'drain'; grace: number }
  /** close every socket and end the thread now (start-up failed elsewhere) */
  | { type: 'close' }
  /** route with a new config generation (its table region made by the supervisor) */
  | { type: 'reload'; seq: number; loaded: LoadedConfig; table: RegionHandoff }
  /** a message another acceptor relayed (WebSocket pub/sub across threads: src/tracks/websocket/hub.ts) */
  | { type: 'relay'; from: number; data: unknown }
  /** the process's readiness changed (a stop began): every thread's probe answers the same */
  | { type: 'readiness'; state: 'starting' | 'ready' | 'draining' }
  /** send this thread's records (scrape.ts) */
  | { type: 'collect'; seq: number }
  /** the answer to this thread's `scrape` */
  | { type: 'scraped'; id: number; result?: unknown; error?: string };

/** Acceptor → supervisor. */
export type FromAcceptor =
  | { type: 'listening'; ports: { host: string; port: number }[] }
  | { type: 'failed'; message: string }
  /** whole log lines (one or more, each ending in \n) for the error or access destination */
  | { type: 'log'; kind: 'error' | 'access'; text: string }
  | { type: 'drained' }
  | { type: 'reloaded'; seq: number; error?: string }
  /** pass `data` to every other acceptor */
  | { type: 'relay'; data: unknown }
  /** this thread's records and requests in flight, for `collect` */
  | { type: 'stats'; seq: number; snap: StatsSnapshot; inflight: number }
  /** a metrics or status request on this thread: the supervisor answers for the process */
  | { type: 'scrape'; id: number; kind: 'metrics' | 'status' };

/** Acceptor → supervisor, on the jobs port. */
export type JobRequest = { id: number; name: string; input: unknown } | { abort: number };

/** Supervisor → acceptor, on the jobs port. */
export type JobResponse =
  | { id: number; ok: true; value: unknown; waitMs: number; runMs: number }
  | { id: number; ok: false; code: string; message: string; headers?: Record<string, string> };

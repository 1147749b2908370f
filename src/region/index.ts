/**
 * Shared state across acceptor threads: fixed-layout structures in SharedArrayBuffers, with
 * Atomics. What a handler sees is `ctx.shared` (the `Shared` interface below); what the server
 * itself shares (route caps, rate limits, passive health) lives in a per-route-table region
 * (plan.ts). No general shared heap: counters, gauges, stamps, token buckets and bounded tables.
 */
import type { TokenBucket } from './bucket.js';
import type { Counter } from './cells.js';
import type { SharedTable } from './table.js';

export type { Verdict } from './bucket.js';
export { TokenBucket } from './bucket.js';
export { Counter, Gauge, Stamp } from './cells.js';
export { sharedNow } from './clock.js';
export type { RegionLayout } from './layout.js';
export { type RegionHandoff, SharedRegion } from './region.js';
export { SharedTable } from './table.js';

/**
 * The process's shared structures as handlers reach them (`ctx.shared`), declared under `shared:`
 * (counters, buckets, tables; the region's gauges are the server's own, not declared there).
 */
export interface Shared {
  /** a 64-bit counter: `add` is atomic across threads */
  counter(name: string): Counter;
  /** a token bucket (GCRA): `take()` is one lock-free CAS loop */
  bucket(name: string): TokenBucket;
  /** a bounded string-keyed table (LRU eviction within a key's probe window) */
  table(name: string): SharedTable;
}

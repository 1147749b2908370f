/**
 * The layout of a shared region: which structures it holds, by name, and where each lives in the
 * one SharedArrayBuffer. The layout is plain data (it crosses `postMessage`); every thread computes
 * the same offsets from it (`place`), so nothing but the buffer and this description is handed over.
 *
 * Sections, each 8-byte aligned, in this order: counters (8 bytes each), gauges (4), stamps (8),
 * buckets (8), then each table (slot metadata, per-home locks, keys, values).
 */

export interface BucketSpec {
  name: string;
  /** tokens per second */
  rate: number;
  /** requests allowed at once beyond the steady rate (nginx's `burst` with `nodelay`) */
  burst: number;
}

export interface TableSpec {
  name: string;
  /** slots, fixed for the region's life */
  capacity: number;
  /** longest key, in UTF-8 bytes */
  keyBytes: number;
  /** largest value, in bytes (rounded up to a multiple of 8) */
  valueBytes: number;
}

export interface RegionLayout {
  /** 64-bit integer counters */
  counters: string[];
  /** 32-bit integer gauges (in-flight counts, flags) */
  gauges: string[];
  /** 64-bit float time stamps (ms, the shared clock) */
  stamps: string[];
  buckets: BucketSpec[];
  tables: TableSpec[];
}

export const emptyLayout = (): RegionLayout => ({
  counters: [],
  gauges: [],
  stamps: [],
  buckets: [],
  tables: [],
});

/** Int32 words of metadata per table slot: version, hash, key length, value length, last used (s), spare. */
export const META = 6;
/** A key is looked for in this many slots from its home slot (and evicts within them). */
export const WINDOW = 8;

export interface TablePlace {
  spec: TableSpec;
  /** value bytes per slot, a multiple of 8 */
  stride: number;
  meta: number;
  locks: number;
  keys: number;
  values: number;
}

export interface Placement {
  counters: number;
  gauges: number;
  stamps: number;
  buckets: number;
  tables: TablePlace[];
  bytes: number;
}

const align8 = (n: number): number => (n + 7) & ~7;

/** Byte offsets of every section (a pure function of the layout). */
export function place(layout: RegionLayout): Placement {
  let at = 0;
  const counters = at;
  at += layout.counters.length * 8;
  const gauges = at;
  at = align8(at + layout.gauges.length * 4);
  const stamps = at;
  at += layout.stamps.length * 8;
  const buckets = at;
  at += layout.buckets.length * 8;
  const tables: TablePlace[] = [];
  for (const spec of layout.tables) {
    const stride = align8(Math.max(8, spec.valueBytes));
    const meta = at;
    at = align8(at + spec.capacity * META * 4);
    const locks = at;
    at = align8(at + spec.capacity * 4);
    const keys = at;
    at = align8(at + spec.capacity * spec.keyBytes);
    const values = at;
    at += spec.capacity * stride;
    tables.push({ spec, stride, meta, locks, keys, values });
  }
  return { counters, gauges, stamps, buckets, tables, bytes: Math.max(8, at) };
}

/** Throws a RangeError naming the problem (duplicate names, sizes out of bounds). */
export function validateLayout(layout: RegionLayout): void {
  const seen = new Set<string>();
  const all = [
    ...layout.counters.map((n) => `counter ${n}`),
    ...layout.gauges.map((n) => `gauge ${n}`),
    ...layout.stamps.map((n) => `stamp ${n}`),
    ...layout.buckets.map((b) => `bucket ${b.name}`),
    ...layout.tables.map((t) => `table ${t.name}`),
  ];
  for (const n of all) {
    if (seen.has(n)) throw new RangeError(`shared region: two structures named "${n}"`);
    seen.add(n);
  }
  for (const b of layout.buckets) {
    if (!(b.rate > 0) || !(b.burst >= 0))
      throw new RangeError(`shared bucket ${b.name}: rate > 0 and burst >= 0`);
  }
  for (const t of layout.tables) {
    if (!(t.capacity >= 1 && t.capacity <= 1 << 20))
      throw new RangeError(`shared table ${t.name}: capacity 1..1048576`);
    if (!(t.keyBytes >= 1 && t.keyBytes <= 1024))
      throw new RangeError(`shared table ${t.name}: key 1..1024 bytes`);
    if (!(t.valueBytes >= 0 && t.valueBytes <= 64 * 1024))
      throw new RangeError(`shared table ${t.name}: value 0..64KiB`);
  }
}

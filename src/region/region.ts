/**
 * A shared region: one SharedArrayBuffer holding the structures a layout names, with typed
 * accessors. The supervisor creates it (`SharedRegion.create`); every thread gets the same memory
 * through `postMessage(region.handoff())` and `SharedRegion.attach(handoff)` (a SharedArrayBuffer
 * is shared by postMessage, never copied). Structures are fixed at creation: nothing is added or
 * grows later, and there is no general shared heap — only counters, gauges, stamps, token buckets
 * and bounded tables (see cells.ts, bucket.ts, table.ts for what each makes atomic).
 */
import { TokenBucket } from './bucket.js';
import { Counter, Gauge, Stamp } from './cells.js';
import { emptyLayout, type Placement, place, type RegionLayout, validateLayout } from './layout.js';
import { SharedTable } from './table.js';

/** What crosses postMessage: the buffer and the layout it was built from. */
export interface RegionHandoff {
  sab: SharedArrayBuffer;
  layout: RegionLayout;
}

export class SharedRegion {
  readonly layout: RegionLayout;
  readonly sab: SharedArrayBuffer;
  private readonly counters = new Map<string, Counter>();
  private readonly gauges = new Map<string, Gauge>();
  private readonly stamps = new Map<string, Stamp>();
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly tables = new Map<string, SharedTable>();

  private constructor(sab: SharedArrayBuffer, layout: RegionLayout, p: Placement) {
    this.sab = sab;
    this.layout = layout;
    const c = new BigInt64Array(sab, p.counters, layout.counters.length);
    layout.counters.forEach((n, i) => {
      this.counters.set(n, new Counter(c, i));
    });
    const g = new Int32Array(sab, p.gauges, layout.gauges.length);
    layout.gauges.forEach((n, i) => {
      this.gauges.set(n, new Gauge(g, i));
    });
    const s = new Float64Array(sab, p.stamps, layout.stamps.length);
    layout.stamps.forEach((n, i) => {
      this.stamps.set(n, new Stamp(s, i));
    });
    const b = new BigInt64Array(sab, p.buckets, layout.buckets.length);
    layout.buckets.forEach((spec, i) => {
      this.buckets.set(spec.name, new TokenBucket(b, i, spec.rate, spec.burst));
    });
    for (const t of p.tables) this.tables.set(t.spec.name, new SharedTable(sab, t));
  }

  /** A new region for `layout`, zeroed. Throws RangeError on a bad layout. */
  static create(layout: Partial<RegionLayout> = {}): SharedRegion {
    const full = { ...emptyLayout(), ...layout };
    validateLayout(full);
    const p = place(full);
    return new SharedRegion(new SharedArrayBuffer(p.bytes), full, p);
  }

  /** This thread's view of a region created elsewhere. */
  static attach(h: RegionHandoff): SharedRegion {
    const p = place(h.layout);
    if (h.sab.byteLength < p.bytes) throw new RangeError('shared region: buffer smaller than its layout');
    return new SharedRegion(h.sab, h.layout, p);
  }

  /** What to postMessage to another thread. */
  handoff(): RegionHandoff {
    return { sab: this.sab, layout: this.layout };
  }

  counter(name: string): Counter {
    return must(this.counters.get(name), 'counter', name);
  }

  gauge(name: string): Gauge {
    return must(this.gauges.get(name), 'gauge', name);
  }

  stamp(name: string): Stamp {
    return must(this.stamps.get(name), 'stamp', name);
  }

  bucket(name: string): TokenBucket {
    return must(this.buckets.get(name), 'bucket', name);
  }

  table(name: string): SharedTable {
    return must(this.tables.get(name), 'table', name);
  }

  /** Bytes of shared memory this region holds. */
  get bytes(): number {
    return this.sab.byteLength;
  }
}

function must<T>(v: T | undefined, kind: string, name: string): T {
  if (v === undefined)
    throw new RangeError(
      `no shared ${kind} named "${name}" (declare it under shared: in the config; a change there takes effect on restart, not on reload)`,
    );
  return v;
}

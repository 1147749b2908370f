/**
 * A fixed-capacity table of small records keyed by string, in shared memory: open addressing,
 * each key looked for in the `WINDOW` (8) slots from its home slot (hash mod capacity).
 *
 * Bounds: keys up to `keyBytes` UTF-8 bytes, values up to `valueBytes` bytes; longer ones are
 * refused with a RangeError. Nothing ever grows.
 *
 * **Eviction rule.** Inserting a key when its window has no empty slot replaces the least recently
 * used record of that window (last read or written, to the second). So a full table keeps what
 * is in use and forgets what is idle; a burst of new keys can push out a record that was idle for
 * a second. Use it for caches and rate-limit buckets, not for data that must not be lost.
 *
 * What is atomic, and what happens when threads race:
 * - A reader never sees a torn record: each slot carries a version (a seqlock); a write makes it
 *   odd, writes, and makes it even again; a reader that saw the version change re-reads. Reads
 *   take no lock and never block.
 * - Writes (`set`, `delete`, `update`) to keys with the same home slot are serialised by that
 *   slot's lock (a futex-style word: spin once, then `Atomics.wait`), so two threads inserting
 *   the same new key make one record, not two. The later write wins, whole.
 * - `update(key, fn)` is a read-modify-write under that lock: atomic with respect to every other
 *   write of the key. A `get` racing with it sees the record before or after, never between.
 *   `fn` may read the table; a write to any shared table from inside `fn` throws (it runs under
 *   the lock, so such a write could wait for itself, or for another thread waiting for this one).
 * - `words(slot)` gives callers a record's value as 64-bit words to CAS themselves (rate limits):
 *   lock-free, but if the record is evicted at that instant, the caller's update lands in the
 *   key that replaced it (one request charged to a fresh bucket).
 */
import { sharedNow } from './clock.js';
import { META, type TablePlace, WINDOW } from './layout.js';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Whether this thread is inside an `update` callback. Writes from there are refused: the callback
 * runs under a slot lock, so a write to the same home slot would wait for itself forever, and two
 * threads each writing the other's key from their callbacks would wait for each other.
 */
let updating = false;

/** Seconds since 2020, for "last used" (Int32 holds it for 68 years). */
const nowSec = (): number => ((sharedNow() / 1000) | 0) - 1_577_836_800;

function fnv1a(b: Uint8Array, n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    h ^= b[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h | 0;
}

export class SharedTable {
  readonly name: string;
  readonly capacity: number;
  readonly keyBytes: number;
  readonly valueBytes: number;
  /** each record's value as 64-bit words (`stride / 8` per slot), for `words(slot)` */
  readonly valueWords: BigInt64Array;
  /** 64-bit words per slot in `valueWords` */
  readonly wordsPerSlot: number;
  private readonly meta: Int32Array;
  private readonly locks: Int32Array;
  private readonly keys: Uint8Array;
  private readonly values: Uint8Array;
  private readonly stride: number;
  private readonly window: number;
  /** this thread's encoded key (one table object per thread, so one buffer each) */
  private readonly key: Uint8Array;
  /** this thread's encoded value */
  private readonly scratch: Uint8Array;
  private keyLen = 0;
  private hash = 0;

  constructor(sab: SharedArrayBuffer, p: TablePlace) {
    const { spec } = p;
    this.name = spec.name;
    this.capacity = spec.capacity;
    this.keyBytes = spec.keyBytes;
    this.valueBytes = spec.valueBytes;
    this.stride = p.stride;
    this.window = Math.min(WINDOW, spec.capacity);
    this.meta = new Int32Array(sab, p.meta, spec.capacity * META);
    this.locks = new Int32Array(sab, p.locks, spec.capacity);
    this.keys = new Uint8Array(sab, p.keys, spec.capacity * spec.keyBytes);
    this.values = new Uint8Array(sab, p.values, spec.capacity * p.stride);
    this.valueWords = new BigInt64Array(sab, p.values, (spec.capacity * p.stride) / 8);
    this.wordsPerSlot = p.stride / 8;
    this.key = new Uint8Array(spec.keyBytes + 4);
    this.scratch = new Uint8Array(spec.valueBytes + 4);
  }

  /** The value of `key` as text, or undefined. Lock-free. */
  get(key: string): string | undefined {
    const b = this.getBytes(key);
    return b === undefined ? undefined : decoder.decode(b);
  }

  /** The value of `key` as a copy of its bytes, or undefined. Lock-free. */
  getBytes(key: string): Uint8Array | undefined {
    if (!this.encode(key)) return undefined;
    const meta = this.meta;
    for (;;) {
      const s = this.find();
      if (s < 0) return undefined;
      const b = s * META;
      const v = Atomics.load(meta, b);
      const len = meta[b + 3]!;
      const out = this.values.slice(s * this.stride, s * this.stride + Math.min(len, this.valueBytes));
      if (Atomics.load(meta, b) === v && (v & 1) === 0 && this.matches(s)) {
        Atomics.store(meta, b + 4, nowSec());
        return out;
      }
    }
  }

  /** Whether `key` has a record. Lock-free. */
  has(key: string): boolean {
    return this.encode(key) && this.find() >= 0;
  }

  /** Insert or replace `key`'s value (evicting per the rule above). Throws RangeError on sizes. */
  set(key: string, value: string | Uint8Array): void {
    const bytes = typeof value === 'string' ? this.encodeValue(value) : value;
    if (bytes.length > this.valueBytes)
      throw new RangeError(
        `shared table ${this.name}: value of ${bytes.length} bytes over ${this.valueBytes}`,
      );
    this.mustEncode(key);
    this.write((s) => {
      this.values.set(bytes, s * this.stride);
      this.meta[s * META + 3] = bytes.length;
    });
  }

  /**
   * Read-modify-write `key` under its lock: `fn` gets the current text (undefined if absent) and
   * returns the new one (undefined deletes). Atomic with respect to every other write of `key`.
   * `fn` may read; a write to a shared table from inside it throws.
   */
  update(key: string, fn: (old: string | undefined) => string | undefined): void {
    this.mustEncode(key);
    const home = this.home();
    this.lock(home);
    try {
      let s = this.find();
      const old =
        s < 0
          ? undefined
          : decoder.decode(this.values.subarray(s * this.stride, s * this.stride + this.meta[s * META + 3]!));
      let next: string | undefined;
      updating = true;
      try {
        next = fn(old);
      } finally {
        updating = false;
      }
      // `fn` may have read other keys of this table, which re-encodes into this thread's buffers.
      this.mustEncode(key);
      s = this.find();
      if (next === undefined) {
        if (s >= 0) this.clear(s);
        return;
      }
      const bytes = this.encodeValue(next);
      if (bytes.length > this.valueBytes)
        throw new RangeError(
          `shared table ${this.name}: value of ${bytes.length} bytes over ${this.valueBytes}`,
        );
      s = this.writeLocked((slot) => {
        this.values.set(bytes, slot * this.stride);
        this.meta[slot * META + 3] = bytes.length;
      });
    } finally {
      this.unlock(home);
    }
  }

  /** Remove `key`; returns whether it was there. */
  delete(key: string): boolean {
    if (!this.encode(key)) return false;
    const home = this.home();
    this.lock(home);
    try {
      const s = this.find();
      if (s < 0) return false;
      this.clear(s);
      return true;
    } finally {
      this.unlock(home);
    }
  }

  /** Records in use now (a scan: for stats and tests, not the hot path). */
  get size(): number {
    let n = 0;
    for (let s = 0; s < this.capacity; s++) if (this.meta[s * META + 2] !== 0) n++;
    return n;
  }

  /**
   * The slot holding `key`, created (value zeroed) if absent; -1 if the key is too long. For
   * callers that keep 64-bit words in the value and CAS them (`valueWords`, from
   * `slot * wordsPerSlot`). Lock-free when the key exists.
   */
  slot(key: string): number {
    if (!this.encode(key)) return -1;
    const s = this.find();
    if (s >= 0) {
      Atomics.store(this.meta, s * META + 4, nowSec());
      return s;
    }
    return this.write(() => {});
  }

  // --- internals: `encode` sets this.key/keyLen/hash; everything after works on them ---

  private encode(key: string): boolean {
    const r = encoder.encodeInto(key, this.key);
    if (r.read < key.length || r.written > this.keyBytes) return false;
    this.keyLen = r.written;
    this.hash = fnv1a(this.key, r.written);
    return true;
  }

  /** `value` as UTF-8 in this thread's scratch buffer (no allocation); longer than the bound: its length. */
  private encodeValue(value: string): Uint8Array {
    const r = encoder.encodeInto(value, this.scratch);
    if (r.read < value.length) return encoder.encode(value); // over the bound: refused by the caller
    return this.scratch.subarray(0, r.written);
  }

  private mustEncode(key: string): void {
    if (!this.encode(key)) throw new RangeError(`shared table ${this.name}: key over ${this.keyBytes} bytes`);
  }

  private home(): number {
    return (this.hash >>> 0) % this.capacity;
  }

  private matches(s: number): boolean {
    const b = s * META;
    const meta = this.meta;
    if (meta[b + 1] !== this.hash || meta[b + 2] !== this.keyLen + 1) return false;
    const at = s * this.keyBytes;
    const keys = this.keys;
    const k = this.key;
    for (let i = 0; i < this.keyLen; i++) if (keys[at + i] !== k[i]) return false;
    return true;
  }

  /** The slot of the encoded key in its window, or -1. Retries a slot while it is being written. */
  private find(): number {
    const home = this.home();
    const meta = this.meta;
    for (let j = 0; j < this.window; j++) {
      const s = (home + j) % this.capacity;
      const b = s * META;
      for (let spins = 0; ; spins++) {
        const v = Atomics.load(meta, b);
        // A writer is in this slot: its write takes microseconds. A writer that never finishes
        // (its thread terminated mid-write) must not hang every reader: after ~1e5 spins, a miss.
        if ((v & 1) !== 0) {
          if (spins > 100_000) break;
          continue;
        }
        const hit = this.matches(s);
        if (Atomics.load(meta, b) !== v) continue;
        if (hit) return s;
        break;
      }
    }
    return -1;
  }

  private write(fill: (s: number) => void): number {
    const home = this.home();
    this.lock(home);
    try {
      return this.writeLocked(fill);
    } finally {
      this.unlock(home);
    }
  }

  /** Under the home lock: write the encoded key's record (new or existing); returns its slot. */
  private writeLocked(fill: (s: number) => void): number {
    const meta = this.meta;
    for (;;) {
      let s = this.find();
      const fresh = s < 0;
      if (fresh) s = this.victim();
      const b = s * META;
      const v = Atomics.load(meta, b);
      // Another home's writer may hold this slot (windows overlap): pick again.
      if ((v & 1) !== 0 || Atomics.compareExchange(meta, b, v, v + 1) !== v) continue;
      if (fresh) {
        meta[b + 1] = this.hash;
        meta[b + 2] = this.keyLen + 1;
        meta[b + 3] = 0;
        this.keys.set(this.key.subarray(0, this.keyLen), s * this.keyBytes);
        this.values.fill(0, s * this.stride, (s + 1) * this.stride);
      }
      fill(s);
      meta[b + 4] = nowSec();
      Atomics.store(meta, b, v + 2);
      return s;
    }
  }

  /** The slot a new key takes: the first empty one in its window, else the least recently used. */
  private victim(): number {
    const home = this.home();
    const meta = this.meta;
    let best = home;
    let oldest = Number.POSITIVE_INFINITY;
    for (let j = 0; j < this.window; j++) {
      const s = (home + j) % this.capacity;
      if (meta[s * META + 2] === 0) return s;
      const used = meta[s * META + 4]!;
      if (used < oldest) {
        oldest = used;
        best = s;
      }
    }
    return best;
  }

  private clear(s: number): void {
    const meta = this.meta;
    const b = s * META;
    for (;;) {
      const v = Atomics.load(meta, b);
      if ((v & 1) !== 0 || Atomics.compareExchange(meta, b, v, v + 1) !== v) continue;
      meta[b + 1] = 0;
      meta[b + 2] = 0;
      meta[b + 3] = 0;
      Atomics.store(meta, b, v + 2);
      return;
    }
  }

  /** Futex-style lock (0 free, 1 held, 2 held with waiters). */
  private lock(i: number): void {
    if (updating)
      throw new Error(
        `shared table ${this.name}: no writes from inside an update() callback (return the new value)`,
      );
    const l = this.locks;
    let c = Atomics.compareExchange(l, i, 0, 1);
    if (c === 0) return;
    if (c !== 2) c = Atomics.exchange(l, i, 2);
    while (c !== 0) {
      Atomics.wait(l, i, 2, 1);
      c = Atomics.exchange(l, i, 2);
    }
  }

  private unlock(i: number): void {
    if (Atomics.exchange(this.locks, i, 0) === 2) Atomics.notify(this.locks, i, 1);
  }
}

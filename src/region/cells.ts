/**
 * The small shared cells: counters, gauges and time stamps. Each is a view on one word of a
 * region's SharedArrayBuffer; every thread that holds the region holds the same word.
 *
 * What is atomic (Eio/Lwt style: what happens when two threads race):
 * - `Counter.add` / `Gauge.add` are one `Atomics.add`: N threads adding concurrently never lose an
 *   update (test/region/region.test.ts: 100,000 adds from each of 4 threads end exact). The value
 *   returned is the counter's value just after *this* add, not a snapshot of anyone else's.
 * - `Gauge.tryAcquire(max)` is add-then-check: when two threads race for the last slot, both
 *   may see the cap exceeded and both back off (a refusal the cap did not strictly require);
 *   never may both get in beyond `max`.
 * - `Stamp` is a plain aligned 64-bit float: a reader sees either the old or the new value (never
 *   a torn mix), with no ordering against other cells. Use it for "down until" times, not for
 *   decisions that must be exclusive (those go through a counter or a gauge).
 */

/** A 64-bit integer counter (exact up to 2^53 as a number). */
export class Counter {
  constructor(
    private readonly words: BigInt64Array,
    private readonly i: number,
  ) {}

  /** Add `n` (default 1); returns the value after this add. Atomic. */
  add(n = 1): number {
    const d = BigInt(n);
    return Number(Atomics.add(this.words, this.i, d) + d);
  }

  /** The current value (atomic load). */
  get value(): number {
    return Number(Atomics.load(this.words, this.i));
  }

  /** Set to `v`; returns the previous value. Atomic (an add racing with it lands before or after). */
  reset(v = 0): number {
    return Number(Atomics.exchange(this.words, this.i, BigInt(v)));
  }
}

/** A 32-bit integer gauge: in-flight counts, flags. No allocation per operation. */
export class Gauge {
  constructor(
    private readonly words: Int32Array,
    private readonly i: number,
  ) {}

  /** Add `n` (may be negative); returns the value after this add. Atomic. */
  add(n: number): number {
    return Atomics.add(this.words, this.i, n) + n;
  }

  get value(): number {
    return Atomics.load(this.words, this.i);
  }

  set(v: number): void {
    Atomics.store(this.words, this.i, v);
  }

  /** Compare-and-set: `to` if the value is `from`; returns whether it was. */
  cas(from: number, to: number): boolean {
    return Atomics.compareExchange(this.words, this.i, from, to) === from;
  }

  /**
   * Take one unit if fewer than `max` are taken; returns whether it did. A taken unit must be
   * given back with `add(-1)`. See the file comment for the race at the cap.
   */
  tryAcquire(max: number): boolean {
    if (Atomics.add(this.words, this.i, 1) < max) return true;
    Atomics.sub(this.words, this.i, 1);
    return false;
  }
}

/** A 64-bit float, typically a time on the shared clock (see clock.ts). Not atomic read-modify-write. */
export class Stamp {
  constructor(
    private readonly words: Float64Array,
    private readonly i: number,
  ) {}

  get value(): number {
    return this.words[this.i]!;
  }

  set value(v: number) {
    this.words[this.i] = v;
  }
}

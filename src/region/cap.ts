/**
 * A process-wide cap on things in flight (a route's `queue:`), counted per thread: one gauge per
 * acceptor thread, the total is their sum. Per-thread counts let the supervisor zero a crashed
 * thread's share (its requests died with it and will never give their units back) without
 * touching the others'.
 *
 * Races: `tryAcquire` adds to its own gauge, then sums; two threads racing for the last unit
 * both see the other's add (sequentially consistent Atomics), so at most one... or neither gets
 * in: never both beyond `max` (a refusal the cap did not strictly require is the price).
 */
import type { Gauge } from './cells.js';

export class Cap {
  constructor(
    /** one per acceptor thread */
    private readonly gauges: readonly Gauge[],
    /** this thread's index */
    private readonly own: number,
  ) {}

  /** Take one unit if the total stays within `max`; a taken unit is given back with `release`. */
  tryAcquire(max: number): boolean {
    const mine = this.gauges[this.own]!;
    mine.add(1);
    let total = 0;
    for (const g of this.gauges) total += g.value;
    if (total <= max) return true;
    mine.add(-1);
    return false;
  }

  release(): void {
    this.gauges[this.own]!.add(-1);
  }

  /** Units taken across all threads now. */
  get value(): number {
    let total = 0;
    for (const g of this.gauges) total += g.value;
    return total;
  }
}

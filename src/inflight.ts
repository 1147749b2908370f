/**
 * The requests in flight, as an intrusive doubly-linked list through the exchanges themselves:
 * adding and removing is a few field writes, with no hashing and no table to grow or shrink
 * (a Set of exchanges hashed every request object and rehashed as it grew and shrank, on every
 * request's path). Drain iterates it; the status page and metrics read `size`.
 */
import type { Exchange } from './exchange.js';

export class InFlight implements Iterable<Exchange> {
  private head: Exchange | undefined = undefined;
  size = 0;

  add(ex: Exchange): void {
    if (ex.listed) return;
    ex.listed = true;
    const h = this.head;
    ex.nextInFlight = h;
    ex.prevInFlight = undefined;
    if (h !== undefined) h.prevInFlight = ex;
    this.head = ex;
    this.size++;
  }

  delete(ex: Exchange): void {
    if (!ex.listed) return;
    ex.listed = false;
    const p = ex.prevInFlight;
    const n = ex.nextInFlight;
    if (p === undefined) this.head = n;
    else p.nextInFlight = n;
    if (n !== undefined) n.prevInFlight = p;
    ex.prevInFlight = undefined;
    ex.nextInFlight = undefined;
    this.size--;
  }

  /** A snapshot: the loop body may finish (and so remove) the exchange it is given. */
  [Symbol.iterator](): Iterator<Exchange> {
    const all: Exchange[] = [];
    for (let ex = this.head; ex !== undefined; ex = ex.nextInFlight) all.push(ex);
    return all[Symbol.iterator]();
  }
}

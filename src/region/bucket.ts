/**
 * A token bucket shared by every thread, as the generic cell rate algorithm (GCRA): the whole
 * state is one 64-bit word, the bucket's "theoretical arrival time" (TAT, µs on the shared clock),
 * so taking a token is one compare-and-swap loop with no lock. Equivalent to a bucket of
 * `burst + 1` tokens refilled at `rate` per second: from idle, `burst + 1` requests pass at once,
 * then one every `1/rate` s.
 *
 * Races: two threads taking the last token at once both read the same TAT; one CAS wins, the
 * other re-reads and is refused (or served, if time passed). The admitted total is exact: N
 * threads never admit N× the rate (test/region/region.test.ts; test/threads/threads.test.ts
 * 'rate: R/s over 5 s').
 */
import { sharedNow } from './clock.js';

export interface Verdict {
  ok: boolean;
  /** tokens left after this request (0 when refused) */
  remaining: number;
  /** ms until one token is available again (0 when ok) */
  retryAfterMs: number;
  /** ms until the bucket is full again */
  resetMs: number;
}

/** Take one token from the TAT word `words[i]` for a bucket of `rate`/s and `burst`. */
export function take(words: BigInt64Array, i: number, rate: number, burst: number, nowMs: number): Verdict {
  const t = 1e6 / rate; // µs per token
  const tau = burst * t; // how far ahead of now the TAT may run
  const now = Math.floor(nowMs * 1000);
  for (;;) {
    const old = Atomics.load(words, i);
    const tat = Number(old);
    const base = tat > now ? tat : now;
    const next = base + t;
    if (next - now > tau + t) {
      const wait = (next - now - tau - t) / 1000;
      return { ok: false, remaining: 0, retryAfterMs: wait, resetMs: (base - now) / 1000 };
    }
    if (Atomics.compareExchange(words, i, old, BigInt(Math.round(next))) === old) {
      const remaining = Math.floor((tau + t - (next - now)) / t);
      return { ok: true, remaining, retryAfterMs: 0, resetMs: (next - now) / 1000 };
    }
  }
}

/** A named bucket of a region. */
export class TokenBucket {
  constructor(
    private readonly words: BigInt64Array,
    private readonly i: number,
    /** tokens per second */
    readonly rate: number,
    readonly burst: number,
  ) {}

  /** Take one token now. Lock-free (a CAS loop); never blocks. */
  take(nowMs: number = sharedNow()): Verdict {
    return take(this.words, this.i, this.rate, this.burst, nowMs);
  }
}

/**
 * Hedging (`hedge: 50ms` on an upstream): for an idempotent request without a body, if the first
 * server has not sent its response head within the delay, the same request goes to another server
 * too, and the first head wins. Built on the runtime's `pick`: the loser's signal is aborted (its
 * undici request and socket with it) and awaited before we go on, so a hedge never leaves a
 * request running for nobody.
 *
 * The two racers:
 * - primary: the ordinary attempt loop with its retries (retry.ts);
 * - hedge: sleeps for the delay, then one attempt on an available primary server the first racer
 *   has not tried (backups are for outages, not for speed).
 * `pick` settles on the first to settle, success or failure; a failure should not end the race
 * while the other racer may still answer, so a racer that fails while the other has an attempt in
 * flight parks (waits for its abort) instead of rejecting. The last one to fail rejects, with its
 * own error. If the primary fails for good before the delay, the sleeping hedge is simply
 * cancelled. Both answering at once: the first head to reach `pick` wins; the other is released
 * (`onLoserValue`).
 *
 * After the race the winner listens to the request's signal (pick unlinks it from its own), so a
 * client that leaves mid-body still aborts it.
 */
import { pick, sleep } from '../runtime/index.js';
import type { Attempt } from './attempt.js';
import { attemptOn, attempts, type Plan, recordFailure } from './retry.js';

/** How many racers have an attempt in flight or ahead of them. */
interface Race {
  running: number;
}

function settleRacer(race: Race, signal: AbortSignal, work: Promise<Attempt>): Promise<Attempt> {
  return work.catch((err: unknown) => {
    if (--race.running > 0 && !signal.aborted) return sleep(Number.POSITIVE_INFINITY, signal) as never;
    throw err;
  });
}

function release(a: Attempt): void {
  a.release();
}

async function hedgeRacer(plan: Plan, race: Race, delay: number, signal: AbortSignal): Promise<Attempt> {
  await sleep(delay, signal);
  const peer = plan.upstream.hedgePeer(plan.key, plan.tried);
  // No other healthy primary to ask: stand aside and let the first attempt finish.
  if (peer === undefined) return sleep(Number.POSITIVE_INFINITY, signal) as never;
  plan.ex.logExtra = { ...plan.ex.logExtra, hedged: true };
  race.running++;
  const a = attemptOn(plan, peer, signal);
  try {
    await a.head;
  } catch (err) {
    if (signal.aborted) throw err;
    // One attempt only: whatever recordFailure decides about retrying, this racer is done.
    let e: unknown;
    try {
      e = recordFailure(plan, peer, a.sent, err);
    } catch (final) {
      e = final;
    }
    throw e;
  }
  peer.succeeded();
  plan.ex.logExtra = { ...plan.ex.logExtra, hedge_won: true };
  return a;
}

/** The response head of the primary or the hedge, whichever comes first. */
export async function hedged(plan: Plan, delay: number): Promise<Attempt> {
  const signal = plan.ex.signal;
  const race: Race = { running: 1 };
  const winner = await pick(
    signal,
    [
      (s) => settleRacer(race, s, attempts(plan, s)),
      (s) => settleRacer(race, s, hedgeRacer(plan, race, delay, s)),
    ],
    { onLoserValue: release },
  );
  winner.listen(signal);
  return winner;
}

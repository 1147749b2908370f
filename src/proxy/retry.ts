/**
 * Attempts and retries (nginx's `proxy_next_upstream error timeout`, `…_tries`): an attempt that
 * fails before the response head may be repeated on the next peer when
 * - the failure allows it (failure.ts: connect errors and resets before the request reached a
 *   socket for any method; resets after it and header timeouts for idempotent methods, or for all
 *   when the upstream sets `retries.non_idempotent`; malformed responses never);
 * - the request body has not begun to flow, or was read to its end and is small enough to have
 *   been kept (request-body.ts): a larger streamed body cannot be replayed;
 * - fewer than `retries.tries` attempts were made, and the route's deadline has not passed.
 * Nothing has been sent to the client at that point by construction: the reply is returned only
 * once a head has arrived, and failures after it close the connection.
 *
 * The next peer is one not yet tried (upstream.ts); when every peer has been tried, a reset may
 * still go once more to the same server on a fresh connection (the stale keep-alive race).
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { type SwitchyardError, syError } from '../errors.js';
import type { CancelSource, Exchange } from '../exchange.js';
import { Attempt, type HeadSink } from './attempt.js';
import { classify, Retry } from './failure.js';
import type { Peer } from './peer.js';
import type { ForwardBody } from './request-body.js';
import type { Upstream } from './upstream.js';

/** RFC 9110 §9.2.2. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);

/** Everything the attempts of one request share. */
export interface Plan {
  readonly ex: Exchange;
  readonly upstream: Upstream;
  readonly opts: Dispatcher.DispatchOptions;
  readonly body: ForwardBody | null;
  readonly key: string | undefined;
  /** peers tried so far (shared with a hedge) */
  readonly tried: Peer[];
  /** failures so far, for the access log */
  errors: string[] | undefined;
}

/** Start one attempt on `peer` (await its `head`, or hear from it as `sink`). Records it on the exchange. */
export function attemptOn(
  plan: Plan,
  peer: Peer,
  signal: CancelSource,
  sink: HeadSink | null = null,
): Attempt {
  const ex = plan.ex;
  plan.tried.push(peer);
  ex.tries++;
  peer.stats.requests++;
  if (ex.tries > 1) peer.stats.retries++;
  ex.upstream = ex.upstream === undefined ? peer.address : `${ex.upstream}, ${peer.address}`;
  return new Attempt(peer, plan.opts, signal, sink);
}

/** What one failed attempt tells us; throws when it ends the request. */
export function recordFailure(plan: Plan, peer: Peer, sent: boolean, err: unknown): SwitchyardError {
  const f = classify(err, sent, peer.address);
  peer.stats.errors++;
  if (f.counts) peer.failed(performance.now(), f.error.code);
  if (f.retry !== Retry.Never || f.counts) (plan.errors ??= []).push(f.error.code);
  if (!mayRetry(plan, f.retry)) throw f.error;
  return f.error;
}

function mayRetry(plan: Plan, retry: Retry): boolean {
  const ex = plan.ex;
  if (retry === Retry.Never || ex.cancelReason !== undefined) return false;
  if (retry === Retry.Idempotent && !plan.upstream.nonIdempotent && !IDEMPOTENT.has(ex.method)) return false;
  if (ex.tries >= plan.upstream.tries) return false;
  if (performance.now() >= ex.deadline) return false;
  // last: it rewinds a small body read to its end for the next attempt
  return plan.body === null || plan.body.rewind();
}

/**
 * The peer for the next attempt after `last` failed (undefined before the first), or throws the
 * error that ends the request.
 */
export function nextPeer(plan: Plan, last: SwitchyardError | undefined): Peer {
  let peer = plan.upstream.select(plan.key, plan.tried);
  if (peer === undefined && last?.code === 'SY_ERR_UPSTREAM_RESET') peer = plan.upstream.again(plan.key);
  if (peer === undefined)
    throw last ?? syError('SY_ERR_UPSTREAM_UNAVAILABLE', `upstream ${plan.upstream.name}`);
  return peer;
}

/**
 * Attempts until a response head arrives or retrying is over. Rejects with the last failure.
 * The same loop as forwarding.ts's, with a promise per attempt: for a racer of a hedge (hedge.ts).
 */
export async function attempts(plan: Plan, signal: CancelSource): Promise<Attempt> {
  let last: SwitchyardError | undefined;
  for (;;) {
    const peer = nextPeer(plan, last);
    const t0 = performance.now();
    const a = attemptOn(plan, peer, signal);
    try {
      await a.head;
      peer.stats.head.observe((performance.now() - t0) / 1000);
      peer.succeeded();
      return a;
    } catch (err) {
      // Cancelled (client gone, deadline, a lost hedge race): that is the outcome, as it came.
      if (signal.aborted) throw err;
      last = recordFailure(plan, peer, a.sent, err);
    }
  }
}

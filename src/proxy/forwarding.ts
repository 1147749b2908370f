/**
 * One proxied request without a hedge: its attempts (retry.ts decides when another may follow)
 * and the one promise the pipeline awaits, settled straight from undici's callbacks. No promise
 * per attempt and no async function between undici and the pipeline.
 *
 * When the head arrives the reply is not made at once: a small response usually ends in the same
 * parser run (head, body and end from one socket read), and one that has ended is answered as
 * one buffer. So the reply is made at the body's end (`onEnd`), or, when the end did not come in
 * the same run, on the next microtask as a streamed reply; either way before anyone could see it.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import type { SwitchyardError } from '../errors.js';
import { type Exchange, Later, type Reply, type ReplySink } from '../exchange.js';
import type { Attempt, HeadSink } from './attempt.js';
import type { Peer } from './peer.js';
import type { ForwardBody } from './request-body.js';
import { attemptOn, nextPeer, type Plan, recordFailure } from './retry.js';
import type { Upstream } from './upstream.js';

/** Makes the Reply of an attempt whose head has arrived; throws for a head we refuse (forward.ts). */
export type MakeReply = (ex: Exchange, a: Attempt) => Reply;

/** Requests whose head arrived and whose reply waits for the end of the current run. */
const heads: Forwarding[] = [];
const RESOLVED = Promise.resolve();

function flushHeads(): void {
  for (let i = 0; i < heads.length; i++) heads[i]!.deliver();
  heads.length = 0;
}

export class Forwarding extends Later implements Plan, HeadSink {
  readonly ex: Exchange;
  readonly upstream: Upstream;
  readonly opts: Dispatcher.DispatchOptions;
  readonly body: ForwardBody | null;
  readonly key: string | undefined;
  readonly tried: Peer[] = [];
  errors: string[] | undefined = undefined;
  private readonly make: MakeReply;
  private last: SwitchyardError | undefined = undefined;
  /** the attempt whose head arrived, until its reply is made */
  private headed: Attempt | null = null;
  private sink!: ReplySink;

  constructor(
    ex: Exchange,
    upstream: Upstream,
    opts: Dispatcher.DispatchOptions,
    body: ForwardBody | null,
    make: MakeReply,
  ) {
    super();
    this.ex = ex;
    this.upstream = upstream;
    this.opts = opts;
    this.body = body;
    this.key = upstream.key(ex);
    this.make = make;
  }

  /** Start the first attempt; the sink hears the reply or the error that ends the request. */
  attach(sink: ReplySink): void {
    this.sink = sink;
    this.attempt();
  }

  private attempt(): void {
    let peer: Peer;
    try {
      peer = nextPeer(this, this.last);
    } catch (err) {
      this.fail(err);
      return;
    }
    // the exchange is a CancelSource: no AbortController per request
    attemptOn(this, peer, this.ex, this);
  }

  onHead(a: Attempt): void {
    a.peer.stats.head.observe((performance.now() - a.startTime) / 1000);
    a.peer.succeeded();
    this.headed = a;
    if (heads.push(this) === 1) void RESOLVED.then(flushHeads);
  }

  onEnd(a: Attempt): void {
    if (this.headed === a) this.deliver();
  }

  onFail(a: Attempt, err: unknown): void {
    // Decided on the next microtask, as the promise-per-attempt loop did: undici calls onError
    // from inside its socket and connect error handling, and a retry dispatched from there would
    // meet its pool half-way through cleaning up (failures only: not on the common path).
    void RESOLVED.then(() => this.failed(a, err));
  }

  private failed(a: Attempt, err: unknown): void {
    // Cancelled (client gone, deadline): that is the outcome, as it came.
    if (this.ex.aborted) return this.fail(err);
    try {
      this.last = recordFailure(this, a.peer, a.sent, err);
    } catch (final) {
      return this.fail(final);
    }
    this.attempt();
  }

  /** Make the reply of the attempt whose head arrived (no-op once made). */
  deliver(): void {
    const a = this.headed;
    if (a === null) return;
    this.headed = null;
    this.logErrors();
    let reply: Reply;
    try {
      reply = this.make(this.ex, a);
    } catch (err) {
      this.sink.error(err);
      return;
    }
    this.sink.reply(reply);
  }

  private fail(err: unknown): void {
    this.logErrors();
    this.sink.error(err);
  }

  private logErrors(): void {
    if (this.errors !== undefined) this.ex.logExtra = { ...this.ex.logExtra, upstream_errors: this.errors };
  }
}

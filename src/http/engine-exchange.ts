/**
 * What both engines' exchanges share: the one waiter a streaming write parks on, the 413 answer
 * for a body over its cap, the reply check before anything is written, closing, and a body source
 * failing mid-response. Each engine supplies the writing and `destroyConnection`.
 */
import { errorReply, type SwitchyardError, syError } from '../errors.js';
import { CHECKED, Exchange, Phase, type Reply } from '../exchange.js';
import { QueuedBody } from './queued-body.js';
import { releaseBody, replyProblem, statusHasBody } from './reply-rules.js';

/**
 * Pieces written in a row without waiting for the socket, before a stream lets the event loop run
 * (`setImmediate`). A body source that never waits (it yields from memory, or yields empty pieces)
 * to a socket that always takes more would keep the loop in microtasks: no timer, no abort, no
 * other connection, not even SIGTERM would run (test/hardening/regressions.test.ts 'a body source
 * that never waits does not starve the server').
 */
export const YIELD_EVERY = 64;

export function nextTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export const RESOLVED = Promise.resolve();

/**
 * A streamed body's piece as bytes. Anything but a string or bytes (an object, a number) is the
 * body source's mistake: it fails the stream (logged, the connection closed) rather than being
 * skipped, which sent a shorter body that looked complete.
 */
export function pieceBytes(piece: unknown): Uint8Array {
  if (typeof piece === 'string') return Buffer.from(piece);
  if (piece instanceof Uint8Array) return piece;
  throw new TypeError(
    `a streamed body gave ${piece === null ? 'null' : typeof piece}: only strings and bytes`,
  );
}

/**
 * A streamed body whose first piece was taken to see whether the source fails at once: it gives
 * that piece, then the rest of the source, and a consumer that stops early stops the source.
 */
class Resumed<T> implements AsyncIterable<T> {
  constructor(
    private readonly it: AsyncIterator<T>,
    private readonly first: Promise<IteratorResult<T>>,
  ) {}

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    let finished = false;
    try {
      for (let r = await this.first; !r.done; r = await this.it.next()) yield r.value;
      finished = true;
    } finally {
      if (!finished) await this.it.return?.();
    }
  }
}

/** What every exchange of one listener shares from its engine. */
export interface ListenerHooks {
  /** the listener serves TLS: every exchange's `secure` */
  readonly secure: boolean;
  /** log a response that could not be written as asked (bad header, stream failure) */
  onWriteError(ex: EngineExchange, err: SwitchyardError | Error): void;
}

export abstract class EngineExchange extends Exchange {
  protected abstract readonly hooks: ListenerHooks;
  /** a streaming write waiting for the socket to take more (or for the client to go) */
  declare protected waiter: (() => void) | undefined;

  constructor(method: string, rawPath: string, query: string, headers: string[], remoteAddress?: string) {
    super(method, rawPath, query, headers, remoteAddress);
    this.waiter = undefined;
  }

  override get secure(): boolean {
    return this.hooks.secure;
  }

  /** Close the transport now (HTTP/1: the connection; HTTP/2: the stream). */
  protected abstract destroyConnection(): void;

  /** Wake a streaming write parked on `waiter`. */
  protected wake(): void {
    const w = this.waiter;
    if (w !== undefined) {
      this.waiter = undefined;
      w();
    }
  }

  /**
   * A cancelled request (its timeout, the drain, the client gone) fails a read of its body that is
   * waiting: a handler awaiting the rest of an upload would otherwise wait for bytes nobody will
   * read, and its request would never finish (no access line, its route's slot never freed).
   */
  override cancel(reason: SwitchyardError): void {
    super.cancel(reason);
    const b = this.body;
    if (b instanceof QueuedBody) b.fail(reason);
  }

  /** BodyOwner: the body cap was crossed. Answer 413 now (and close: we stop reading). */
  overLimit(err: SwitchyardError): void {
    this.closeAfter = true;
    this.errorCode = err.code;
    this.cancel(err);
    void this.send(errorReply(err, false));
  }

  close(): void {
    if (this.phase === Phase.Closed) return;
    const wasDone = this.phase === Phase.Done;
    if (!wasDone) this.closedBy ??= 'server';
    this.phase = Phase.Closed;
    if (!wasDone) this.destroyConnection();
    this.wake();
  }

  /** Is the request body still arriving? Then we close after answering (we will not read it). */
  protected bodyUnread(): boolean {
    const b = this.body;
    return b instanceof QueuedBody && !b.complete;
  }

  /** The reply to write: `reply` itself, or (logged) the error reply when it breaks a rule. */
  protected checked(reply: Reply): Reply {
    if ((reply as Reply | null)?.[CHECKED] === true) return reply;
    const problem = replyProblem(reply);
    if (problem === undefined) return reply;
    this.hooks.onWriteError(this, problem);
    this.errorCode = problem.code;
    releaseBody((reply as Reply | null)?.body);
    return errorReply(problem, false);
  }

  /**
   * A handler's streamed body is asked for its first piece before the head is written. A source
   * that fails within this loop turn (a query or a file that fails at once) is answered 500 — no
   * byte of the head has left — instead of a head and a cut connection; a slower first piece
   * leaves the head to go out now, as before. Resolves to the reply to write — the stream, its
   * body resumed, or the 500 (logged) — or undefined when the exchange ended meanwhile.
   */
  protected async firstPiece(reply: Reply): Promise<Reply | undefined> {
    const it = (reply.body as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
    const first = it.next();
    const early = await Promise.race([
      first.then(
        (r) => ({ r }),
        (e: unknown) => ({ e }),
      ),
      nextTurn(),
    ]);
    if (this.phase !== Phase.Open) {
      // answered meanwhile (its timeout, the client gone): stop the source
      if (early === undefined || 'r' in early) void it.return?.()?.catch(() => {});
      return undefined;
    }
    if (early !== undefined && 'e' in early) {
      const e = early.e instanceof Error ? early.e : new Error(String(early.e));
      this.errorCode = (e as { code?: string }).code ?? 'SY_ERR_STREAM';
      this.hooks.onWriteError(this, e);
      return errorReply(syError('SY_ERR_STREAM'), false);
    }
    return { ...reply, body: new Resumed(it, first) };
  }

  /** Does `reply` go through `firstPiece` first? A handler's async stream, not yet resumed. */
  protected static wantsFirstPiece(reply: Reply, method: string): boolean {
    const b = reply.body;
    return (
      reply[CHECKED] !== true &&
      b !== null &&
      typeof b === 'object' &&
      Symbol.asyncIterator in b &&
      !(b instanceof Resumed) &&
      method !== 'HEAD' &&
      statusHasBody(reply.status)
    );
  }

  /** The body source failed mid-response: the status is out, so the only honest move is to close. */
  protected streamFailed(err: unknown): void {
    if (this.phase === Phase.Closed) return;
    const e = err instanceof Error ? err : new Error(String(err));
    this.errorCode ??= (e as { code?: string }).code ?? 'SY_ERR_STREAM';
    this.hooks.onWriteError(this, e);
    this.close();
  }
}

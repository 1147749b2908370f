/**
 * The client's request body as undici reads it, with two things added: whether reading has begun,
 * and the bytes read so far of a small body, so that it can be sent again.
 *
 * A body is a stream, read once. An attempt that failed before undici pulled its first chunk can
 * be repeated on another server with the same body. One that failed after can be repeated only when
 * the whole body was read and is at most `REPLAY_MAX` bytes (kept as it went by): what nginx's
 * request buffering makes possible for the stale keep-alive race, for a PUT or DELETE as for a GET
 * (retry.ts). A larger body, or one not yet read to its end, cannot be replayed.
 *
 * `return()` does not close the source: undici calls it when its socket fails, and the next
 * attempt (if reading had not begun, or the body can be replayed) or the pipeline's error reply
 * still owns the body.
 */
import type { RequestBody } from '../exchange.js';

const DONE: IteratorResult<Buffer> = { value: undefined, done: true };

/** The largest body kept for a replay (nginx's client_body_buffer_size is 8–16 KiB in memory). */
export const REPLAY_MAX = 64 * 1024;

export class ForwardBody implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  /** undici has asked for a chunk */
  started = false;
  private readonly source: RequestBody;
  private it: AsyncIterator<Buffer> | undefined = undefined;
  /** the chunks read from the source so far, while they total at most REPLAY_MAX; then null */
  private kept: Buffer[] | null = [];
  private keptBytes = 0;
  /** the source has ended (every chunk is in `kept`, when it is not null) */
  private ended = false;
  /** replaying `kept`: the index of the next chunk to give */
  private replayAt = -1;

  constructor(source: RequestBody) {
    this.source = source;
  }

  async next(): Promise<IteratorResult<Buffer>> {
    this.started = true;
    if (this.replayAt >= 0) {
      const kept = this.kept!;
      return this.replayAt < kept.length ? { value: kept[this.replayAt++]!, done: false } : DONE;
    }
    this.it ??= this.source[Symbol.asyncIterator]();
    const r = await this.it.next();
    if (r.done) this.ended = true;
    else if (this.kept !== null) {
      this.keptBytes += r.value.byteLength;
      if (this.keptBytes <= REPLAY_MAX) this.kept.push(r.value);
      else this.kept = null;
    }
    return r;
  }

  /** Make the next attempt read the whole body again from the start; false when it cannot. */
  rewind(): boolean {
    if (!this.started) return true;
    if (!this.ended || this.kept === null) return false;
    this.replayAt = 0;
    return true;
  }

  return(): Promise<IteratorResult<Buffer>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }
}

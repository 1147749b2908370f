/**
 * The client's request body as undici reads it, with one thing added: whether reading has begun.
 * A body is a stream, read once; an attempt that failed before undici pulled its first chunk can
 * be repeated on another server with the same body, one that failed after cannot (retry.ts).
 *
 * `return()` does not close the source: undici calls it when its socket fails, and the next
 * attempt (if reading had not begun) or the pipeline's error reply still owns the body.
 */
import type { RequestBody } from '../exchange.js';

const DONE: IteratorResult<Buffer> = { value: undefined, done: true };

export class ForwardBody implements AsyncIterable<Buffer>, AsyncIterator<Buffer> {
  /** undici has asked for a chunk */
  started = false;
  private readonly source: RequestBody;
  private it: AsyncIterator<Buffer> | undefined = undefined;

  constructor(source: RequestBody) {
    this.source = source;
  }

  next(): Promise<IteratorResult<Buffer>> {
    this.started = true;
    this.it ??= this.source[Symbol.asyncIterator]();
    return this.it.next();
  }

  return(): Promise<IteratorResult<Buffer>> {
    return Promise.resolve(DONE);
  }

  [Symbol.asyncIterator](): AsyncIterator<Buffer> {
    return this;
  }
}

/**
 * Encoding a body with node:zlib, never with a `*Sync` call: a small body is compressed in one
 * asynchronous call (zlib's work runs on libuv's thread pool, off the event loop), a streamed
 * body through a zlib stream in a pipeline, so backpressure runs end to end: the engine pulls
 * compressed pieces as the socket takes them, zlib pulls source pieces as it has room, and the
 * source (an upstream body, a file) is read no faster than that.
 */
import { pipeline, Readable } from 'node:stream';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import type { CompressConfig } from './schema.js';

export type Encoding = 'br' | 'gzip';

export interface Encoders {
  /** one body in one asynchronous call */
  whole(enc: Encoding, body: Uint8Array): Promise<Buffer>;
  /** a stream of pieces as a stream of compressed pieces */
  stream(
    enc: Encoding,
    body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>,
    sizeHint: number | undefined,
  ): AsyncIterable<Buffer>;
}

const gzipAsync = promisify(zlib.gzip);
const brotliAsync = promisify(zlib.brotliCompress);

/** Built once per route: the zlib options for its levels. */
export function encoders(cfg: CompressConfig): Encoders {
  const gzipOpts: zlib.ZlibOptions = { level: cfg.level.gzip };
  const brOpts = (sizeHint: number | undefined): zlib.BrotliOptions => ({
    params: {
      [zlib.constants.BROTLI_PARAM_QUALITY]: cfg.level.br,
      [zlib.constants.BROTLI_PARAM_MODE]: zlib.constants.BROTLI_MODE_TEXT,
      ...(sizeHint === undefined ? {} : { [zlib.constants.BROTLI_PARAM_SIZE_HINT]: sizeHint }),
    },
  });
  return {
    whole(enc, body) {
      return enc === 'gzip' ? gzipAsync(body, gzipOpts) : brotliAsync(body, brOpts(body.byteLength));
    },
    stream(enc, body, sizeHint) {
      return compressStream(body, () =>
        enc === 'gzip' ? zlib.createGzip(gzipOpts) : zlib.createBrotliCompress(brOpts(sizeHint)),
      );
    },
  };
}

/**
 * Compressed pieces of `body`. The source is wrapped with `highWaterMark: 1` so at most one source
 * piece waits ahead of zlib; zlib's own buffers are 16 KiB each way. If the consumer stops early
 * (client gone: the engine calls `return()`), `finally` destroys the pipeline, which ends the
 * source's iterator (an upstream body is released, a file closed).
 */
async function* compressStream(
  body: AsyncIterable<Uint8Array | string> | Iterable<Uint8Array>,
  make: () => zlib.Zlib & NodeJS.ReadWriteStream,
): AsyncGenerator<Buffer> {
  const source = Readable.from(body, { objectMode: true, highWaterMark: 1 });
  const z = make() as unknown as NodeJS.ReadWriteStream & { destroy(err?: Error): void };
  let failure: Error | undefined;
  pipeline(source, z, (err) => {
    if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE') failure = err;
  });
  try {
    for await (const piece of z as AsyncIterable<Buffer>) yield piece;
    if (failure !== undefined) throw failure;
  } finally {
    source.destroy();
    z.destroy();
  }
}

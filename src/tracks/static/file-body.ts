/**
 * A file's bytes as a reply body: read in 64 KiB pieces from a file handle, one piece ahead of
 * the socket (the engine awaits each write's backpressure before pulling the next), so a client
 * that stops reading holds one piece plus what uWS buffered, whatever the file's size (measured
 * in test/static/static.test.ts). The handle opens on the first pull and closes in `finally`, so
 * a body never pulled (HEAD, a client gone) opens nothing, and one abandoned half-way is closed
 * when the engine calls `return()`.
 */
import { open } from 'node:fs/promises';

const PIECE = 64 * 1024;

export async function* fileBody(path: string, start: number, length: number): AsyncGenerator<Uint8Array> {
  const fh = await open(path, 'r');
  try {
    let pos = start;
    let left = length;
    while (left > 0) {
      const buf = Buffer.allocUnsafe(Math.min(PIECE, left));
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos);
      if (bytesRead === 0) return; // the file shrank: the engine sees a short body and closes
      pos += bytesRead;
      left -= bytesRead;
      yield bytesRead === buf.byteLength ? buf : buf.subarray(0, bytesRead);
    }
  } finally {
    await fh.close();
  }
}

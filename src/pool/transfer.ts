/**
 * Which buffers to transfer rather than copy when a job's input or output crosses threads.
 *
 * Structured clone copies every byte; transferring moves the memory and detaches it on the
 * sender's side (its `byteLength` becomes 0). Below 64 KiB copying is cheaper than the bookkeeping
 * and leaves the caller's data intact, so only large buffers move. Looked at: the value itself and,
 * for a plain object or array, its first 64 direct members (one level: `{ image: Uint8Array, w }`),
 * so a large array of numbers costs no scan.
 *
 * Only a buffer that is wholly owned is transferred: an ArrayBuffer, or a view that covers its
 * whole ArrayBuffer (a slice of a larger buffer, such as a chunk of a pooled Node Buffer, is
 * copied, because moving it would take the rest of the buffer away from its owner).
 * SharedArrayBuffers are shared by structured clone anyway and never appear here.
 */

export const TRANSFER_MIN_BYTES = 64 * 1024;
const SCAN_MEMBERS = 64;

function add(v: unknown, out: ArrayBuffer[]): void {
  let buf: ArrayBuffer | undefined;
  if (v instanceof ArrayBuffer) buf = v;
  else if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) {
    if (v.byteOffset === 0 && v.byteLength === v.buffer.byteLength) buf = v.buffer;
  }
  if (buf !== undefined && buf.byteLength >= TRANSFER_MIN_BYTES && !out.includes(buf)) out.push(buf);
}

function isPlain(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

/** The ArrayBuffers of `value` worth transferring ([] for nearly everything). */
export function transferables(value: unknown): ArrayBuffer[] {
  const out: ArrayBuffer[] = [];
  if (value === null || typeof value !== 'object') return out;
  add(value, out);
  if (Array.isArray(value)) {
    const n = Math.min(value.length, SCAN_MEMBERS);
    for (let i = 0; i < n; i++) add(value[i], out);
  } else if (isPlain(value)) {
    let n = 0;
    for (const k in value) {
      add((value as Record<string, unknown>)[k], out);
      if (++n === SCAN_MEMBERS) break;
    }
  }
  return out;
}

/**
 * A worker thread for loadtest/threads.ts: attaches the shared region, waits for the common start,
 * runs one operation in a loop for `ms` milliseconds and posts how many it did per second.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';

const root = fileURLToPath(new URL('../../..', import.meta.url)); // from dist/loadtest/lib/
const { SharedRegion } = (await import(
  join(root, 'dist', 'src', 'region', 'index.js')
)) as typeof import('../../src/region/index.js');
const { handoff, op, ms, start } = workerData as {
  handoff: never;
  op: string;
  ms: number;
  start: SharedArrayBuffer;
};
const region = SharedRegion.attach(handoff);
const go = new Int32Array(start);
while (Atomics.load(go, 0) === 0) Atomics.wait(go, 0, 0, 50);

let n = 0;
const t0 = performance.now();
const end = t0 + ms;
if (op === 'counter') {
  const c = region.counter('c');
  while (performance.now() < end) for (let i = 0; i < 1000; i++, n++) c.add(1);
} else if (op === 'bucket') {
  const b = region.bucket('b');
  while (performance.now() < end) for (let i = 0; i < 1000; i++, n++) b.take();
} else {
  const t = region.table('t');
  const keys = Array.from({ length: 64 }, (_, i) => `client-${i}`);
  while (performance.now() < end)
    for (let i = 0; i < 1000; i++, n += 2) {
      const k = keys[i & 63]!;
      t.set(k, 'v');
      t.get(k);
    }
}
parentPort!.postMessage(n / ((performance.now() - t0) / 1000));

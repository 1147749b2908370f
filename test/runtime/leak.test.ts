import { getEventListeners } from 'node:events';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { any, link, onCancel, openScope, pick, scope, sleep, withTimeout } from '../../src/runtime/index.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('no growth on a long-lived parent signal', () => {
  it('100,000 scopes linked to one parent leave no listener and no retained heap', async () => {
    const server = new AbortController();
    const n = 100_000;
    // warm up (JIT, lazy internals) before the baseline
    for (let i = 0; i < 2000; i++) {
      const s = openScope({ signal: server.signal, timeout: 30_000 });
      void s.signal;
      await s.close();
    }
    const before = heapAfterGc();
    let maxListeners = 0;
    for (let i = 0; i < n; i++) {
      const s = openScope({ signal: server.signal, timeout: 30_000 });
      if (i % 4 === 0) {
        await s.fork(async () => i);
      } else if (i % 4 === 1) {
        s.defer(() => {});
        void s.signal;
      } else if (i % 4 === 2) {
        s.cancel('client went away');
        void s.signal;
      } else {
        void s.signal;
      }
      maxListeners = Math.max(maxListeners, getEventListeners(server.signal, 'abort').length);
      await s.close().catch(() => {});
      // fail fast: leaked listeners make every addEventListener slower (quadratic)
      if (i % 1000 === 0) expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
    }
    const grown = heapAfterGc() - before;
    if (process.env.RUNTIME_LEAK_REPORT) console.log(`heap grown by ${grown} bytes over ${n} scopes`);
    expect(getEventListeners(server.signal, 'abort')).toHaveLength(0);
    expect(maxListeners).toBe(1);
    // A retained scope (AbortSignal + listener + timer) costs well over 500 bytes: 100k would be 50 MB+.
    expect(grown).toBeLessThan(4 * 1024 * 1024);
  });

  it('scope(), pick, any, withTimeout, sleep, link and onCancel leave no listener behind', async () => {
    const server = new AbortController();
    const signal = server.signal;
    for (let i = 0; i < 500; i++) {
      await scope(async (s) => s.fork(async () => i), { signal, timeout: 1000 });
      await pick(signal, [async () => 1, (sig) => sleep(1000, sig).then(() => 2)]);
      await any(signal, [async () => 1, async () => 2]);
      await withTimeout(1000, signal, async () => 1);
      await sleep(0, signal);
      link(signal).dispose();
      onCancel(signal, () => {})();
    }
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
  });
});

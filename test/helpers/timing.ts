/**
 * Latency bounds that hold on a busy machine. A test states its claim as measured on a quiet
 * machine, and measures the machine's pace in the same test, just before, with a small round trip
 * of the same kind (`pace`); the bound is the claim scaled by how much slower that round trip is now
 * than on a quiet machine (`scaled`). A quiet machine gets the claim itself; a busy one a looser
 * bound in proportion; no bound is ever tighter than the claim.
 */
import http from 'node:http';

/** The slowest of `n` runs of `probe` (ms): how slow a small round trip is on this machine now. */
export async function pace(probe: () => Promise<unknown>, n = 5): Promise<number> {
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await probe();
    worst = Math.max(worst, performance.now() - t0);
  }
  return worst;
}

/**
 * `claimMs` (true on a quiet machine, where the probe's round trip takes `quietPaceMs`), scaled by
 * the pace measured now: claimMs × max(1, paceMs / quietPaceMs).
 */
export function scaled(claimMs: number, paceMs: number, quietPaceMs: number): number {
  return claimMs * Math.max(1, paceMs / quietPaceMs);
}

/** The time `fn` takes (ms), with its result. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  const value = await fn();
  return { value, ms: performance.now() - t0 };
}

/**
 * `pace` on this 2-core machine at its quietest (the lowest of 40 measurements, each the slowest of
 * five round trips), ms: `get`, a GET over a fresh raw connection to a route that answers at once
 * (in-process server); `fetch`, the same with fetch() or node:http; `job`, GET /job/where (a
 * trivial pool job); `local`, `localPace()`; `wsEcho`, a text message echoed through a proxied
 * WebSocket on an open connection (client → Switchyard → `ws` origin and back).
 */
export const QUIET_PACE_MS = { get: 0.5, fetch: 0.8, job: 1.1, local: 0.7, wsEcho: 0.5 } as const;

/**
 * `pace` of a GET to a node:http server in this process over a fresh connection: the machine's pace
 * for tests whose server cannot take an extra request without changing what they count. Compare
 * with QUIET_PACE_MS.local.
 */
export async function localPace(): Promise<number> {
  const server = http.createServer((_req, res) => res.end('ok'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  const once = () =>
    new Promise<void>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/', agent: false }, (res) => {
          res.resume();
          res.on('end', resolve);
        })
        .on('error', reject);
    });
  try {
    await once();
    return await pace(once);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}

/**
 * A `localPace()` kept for up to `maxAgeMs` and measured again after: for a file of many short
 * cases that each scale their waits, without a measurement per case.
 */
export function recentPace(maxAgeMs = 1000): () => Promise<number> {
  let at = Number.NEGATIVE_INFINITY;
  let last = 0;
  return async () => {
    if (performance.now() - at > maxAgeMs) {
      last = await localPace();
      at = performance.now();
    }
    return last;
  };
}

/**
 * How long to watch for something that must NOT happen (a byte, a forwarded request): `claimMs`,
 * the time it would take to show up on a quiet machine, scaled by the pace measured now. Only for
 * proving absence; a test that waits for something to happen uses `until`.
 */
export async function absenceWindow(claimMs: number, paceMs?: number): Promise<number> {
  return scaled(claimMs, paceMs ?? (await localPace()), QUIET_PACE_MS.local);
}

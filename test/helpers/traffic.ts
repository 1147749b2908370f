/**
 * Background "normal" traffic and its latencies, percentiles, and the memory of a server started
 * with --expose-gc: what the hardening and fuzz tests measure a server by.
 */
import http from 'node:http';
import { getJson } from './http.js';
import { until } from './wait.js';

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export interface Traffic {
  /** requests answered so far */
  count(): number;
  /** stop and resolve with the latencies (ms, sorted) and the statuses seen */
  stop(): Promise<{ latencies: number[]; statuses: Record<number, number>; errors: number }>;
}

/**
 * `workers` loops of GET `url` over keep-alive connections, back to back, until `stop()`:
 * the well-behaved clients whose latency must not suffer while others misbehave.
 */
export function normalTraffic(url: string, workers = 4): Traffic {
  const agent = new http.Agent({ keepAlive: true, maxSockets: workers });
  const latencies: number[] = [];
  const statuses: Record<number, number> = {};
  let errors = 0;
  let running = true;
  const one = () =>
    new Promise<void>((resolve) => {
      const t0 = performance.now();
      const req = http.get(url, { agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(performance.now() - t0);
          statuses[res.statusCode!] = (statuses[res.statusCode!] ?? 0) + 1;
          resolve();
        });
        res.on('error', () => {
          errors++;
          resolve();
        });
      });
      req.on('error', () => {
        errors++;
        resolve();
      });
    });
  const loop = async () => {
    while (running) {
      await one();
      // a short pause: steady traffic, not a load test
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return {
    count: () => latencies.length,
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { latencies: latencies.sort((a, b) => a - b), statuses, errors };
    },
  };
}

export interface ServerMemory {
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  rss: number;
}

/**
 * The server's memory once full GCs stop freeing anything (the live heap moves by less than 1 % from
 * one to the next; at most 10). The CLI must run with --expose-gc and route /stats to
 * test/fixtures/handlers/stats.js.
 */
export async function serverMemory(base: string): Promise<ServerMemory> {
  const gc = async () => (await getJson<{ memory: ServerMemory }>(`${base}/stats?gc=1`)).body.memory;
  let last = await gc();
  for (let i = 0; i < 10; i++) {
    const now = await gc();
    const settled = Math.abs(now.heapUsed - last.heapUsed) < last.heapUsed / 100;
    last = now;
    if (settled) break;
  }
  return last;
}

/**
 * The baseline for latency claims: `normalTraffic` against `url` alone, for `n` requests, measured
 * in the same test just before the misbehaviour starts, on the machine as busy as it is then.
 */
export async function quietLatencies(url: string, n = 200): Promise<number[]> {
  const t = normalTraffic(url);
  await until(() => t.count() >= n, 'the baseline requests');
  return (await t.stop()).latencies;
}

/** Start the CLI with --expose-gc (the env is read at spawn time). */
export async function withExposedGc<T>(start: () => Promise<T>): Promise<T> {
  const prev = process.env.NODE_OPTIONS;
  process.env.NODE_OPTIONS = `${prev ?? ''} --expose-gc`.trim();
  try {
    return await start();
  } finally {
    if (prev === undefined) delete process.env.NODE_OPTIONS;
    else process.env.NODE_OPTIONS = prev;
  }
}

export const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;

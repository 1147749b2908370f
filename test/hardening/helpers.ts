/**
 * Helpers for the hardening tests: background "normal" traffic with its latencies, percentiles,
 * and the paths of the fixture folders.
 */
import http from 'node:http';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/load.js';

export const HANDLERS = join(packageRoot, 'test', 'fixtures', 'handlers');
export const ROUTES = join(packageRoot, 'test', 'fixtures', 'routes');

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

export interface Traffic {
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
    async stop() {
      running = false;
      await Promise.all(loops);
      agent.destroy();
      return { latencies: latencies.sort((a, b) => a - b), statuses, errors };
    },
  };
}

/** GET a URL over a fresh connection; resolves with the status and the body parsed as JSON (or text). */
export function getJson<T = unknown>(url: string): Promise<{ status: number; body: T; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body: body as T, ms: performance.now() - t0 });
        });
      })
      .on('error', reject);
  });
}

export interface ServerMemory {
  heapUsed: number;
  arrayBuffers: number;
  external: number;
  rss: number;
}

/**
 * The server's memory after two full GCs (the CLI must run with --expose-gc, and route /stats to
 * test/fixtures/handlers/stats.js).
 */
export async function serverMemory(base: string): Promise<ServerMemory> {
  await getJson(`${base}/stats?gc=1`);
  await sleep(50);
  const r = await getJson<{ memory: ServerMemory }>(`${base}/stats?gc=1`);
  return r.body.memory;
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

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `npm run bench:threads`: what `threads: N` buys on this machine, side by side in one run.
 *
 * 1. HTTP: the built CLI with `threads: 1` and `threads: 2` (alternating rounds, A B A B), each
 *    serving /hello (a handler) and /small (the proxy track to a raw-uWS origin, loadtest/origin.ts),
 *    loaded by wrk (-t1, 50 connections). Reported: req/s, p99, and CPU µs per request — the
 *    server process's utime + stime from /proc/PID/stat (all its threads) / requests served.
 *    On a 2-core machine wrk and the origin share the cores with the server: a second acceptor
 *    thread competes with them rather than getting a core of its own, so req/s is a lower bound
 *    of what threads give on a machine with idle cores; CPU per request shows the cost of the
 *    thread machinery itself.
 * 2. Shared state: operations per second per thread on the shared region (counter add, token
 *    bucket take, table set + get), with 1 thread alone and with 2 and 4 threads contending for
 *    the same words.
 *
 *   npm run build && node dist/loadtest/threads.js [--rounds 3] [--duration 10] [--quick]
 *
 * Writes loadtest/results/threads.json and prints the tables.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { parseCli, whole } from './lib/cli.js';
import { runLoad } from './lib/load.js';
import { freePort, waitReady } from './lib/net.js';
import { type Spawned, spawnTracked, stop } from './lib/proc.js';

const root = fileURLToPath(new URL('../..', import.meta.url)); // from dist/loadtest/
const cli = join(root, 'dist', 'src', 'cli.js');

const USAGE = `usage: npm run bench:threads -- [options]

  --rounds=N            alternating rounds per configuration (default 3)
  --duration=SEC        seconds per round (default 10)
  --quick               1 round of 2 s: to check the harness
  --out=FILE            where the JSON goes (default loadtest/results/threads.json)
`;

const opt = parseCli(
  'threads',
  USAGE,
  {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '10' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'loadtest', 'results', 'threads.json') },
  },
  (v) => {
    whole('rounds', v.rounds, 0, 1);
    whole('duration', v.duration, 0, 1);
  },
);
const rounds = opt.quick ? 1 : Number(opt.rounds);
const duration = opt.quick ? 2 : Number(opt.duration);
const log = (s: string) => process.stdout.write(`${s}\n`);

/** utime + stime of a process (all its threads), in µs. */
function cpuMicros(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  return (ticks / 100) * 1e6; // USER_HZ is 100 on Linux
}

interface Row {
  threads: number;
  path: string;
  rps: number[];
  p99: number[];
  cpuUs: number[];
}

async function startSwitchyard(
  threads: number,
  originPort: number,
  dir: string,
): Promise<{ proc: Spawned; port: number }> {
  const port = await freePort();
  const file = join(dir, `threads-${threads}.yaml`);
  writeFileSync(
    file,
    `threads: ${threads}\nlisten:\n  - { host: 127.0.0.1, port: ${port} }\nlog: { level: warn, access: off }\n` +
      `routes_dir: ${join(root, 'dist', 'routes')}\n` +
      `upstreams:\n  origin:\n    servers: [{ url: "http://127.0.0.1:${originPort}" }]\n` +
      `routes:\n  - { path: /hello, handler: hello }\n  - { path: /small, proxy: origin }\n`,
  );
  const proc = spawnTracked(`switchyard-${threads}`, process.execPath, [cli, 'start', '-c', file]);
  await waitReady(proc, port, '/hello', 20_000);
  return { proc, port };
}

async function http(): Promise<Row[]> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-threads-'));
  const originPort = await freePort();
  const origin = spawnTracked('origin', process.execPath, [
    join(root, 'dist', 'loadtest', 'origin.js'),
    '--port',
    String(originPort),
  ]);
  await waitReady(origin, originPort, '/small', 10_000);
  const rows: Row[] = [];
  const row = (threads: number, path: string) => {
    let r = rows.find((x) => x.threads === threads && x.path === path);
    if (r === undefined) rows.push((r = { threads, path, rps: [], p99: [], cpuUs: [] }));
    return r;
  };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const threads of [1, 2]) {
        const { proc, port } = await startSwitchyard(threads, originPort, dir);
        try {
          for (const path of ['/hello', '/small']) {
            const url = `http://127.0.0.1:${port}${path}`;
            await runLoad(
              { kind: 'wrk', bin: 'wrk' },
              { url, connections: 50, threads: 1, durationSec: 1, method: 'GET' },
              dir,
            );
            const c0 = cpuMicros(proc.child.pid!);
            const r = await runLoad(
              { kind: 'wrk', bin: 'wrk' },
              { url, connections: 50, threads: 1, durationSec: duration, method: 'GET' },
              dir,
            );
            const cpu = cpuMicros(proc.child.pid!) - c0;
            if (r.httpErrors + r.socketErrors > 0)
              log(`  (${r.httpErrors} http, ${r.socketErrors} socket errors)`);
            const x = row(threads, path);
            x.rps.push(r.rps);
            x.p99.push(r.p99);
            x.cpuUs.push(cpu / r.requests);
            log(
              `round ${round + 1} threads ${threads} ${path}: ${Math.round(r.rps)} req/s, p99 ${r.p99.toFixed(2)} ms, ${(cpu / r.requests).toFixed(1)} µs CPU/req`,
            );
          }
        } finally {
          await stop(proc.child);
        }
      }
    }
  } finally {
    await stop(origin.child);
  }
  return rows;
}

interface OpsRow {
  op: string;
  threads: number;
  /** ops/s of each thread */
  perThread: number[];
}

async function shared(): Promise<OpsRow[]> {
  const { SharedRegion } = (await import(
    join(root, 'dist', 'src', 'region', 'index.js')
  )) as typeof import('../src/region/index.js');
  const worker = join(dirname(fileURLToPath(import.meta.url)), 'lib', 'shared-ops.js');
  const out: OpsRow[] = [];
  const ms = opt.quick ? 300 : 2000;
  for (const op of ['counter', 'bucket', 'table']) {
    for (const threads of [1, 2, 4]) {
      const region = SharedRegion.create({
        counters: ['c'],
        buckets: [{ name: 'b', rate: 1e7, burst: 1e6 }],
        tables: [{ name: 't', capacity: 4096, keyBytes: 32, valueBytes: 32 }],
      });
      const start = new SharedArrayBuffer(4);
      const ws = Array.from(
        { length: threads },
        () => new Worker(worker, { workerData: { handoff: region.handoff(), op, ms, start } }),
      );
      const results = ws.map(
        (w) =>
          new Promise<number>((resolve, reject) => {
            w.once('message', resolve);
            w.once('error', reject);
          }),
      );
      await new Promise((r) => setTimeout(r, 300));
      Atomics.store(new Int32Array(start), 0, 1);
      Atomics.notify(new Int32Array(start), 0);
      const perThread = await Promise.all(results);
      await Promise.all(ws.map((w) => w.terminate()));
      out.push({ op, threads, perThread });
      log(`${op} × ${threads} threads: ${perThread.map((n) => `${(n / 1e6).toFixed(2)} M/s`).join(', ')}`);
    }
  }
  return out;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  log(
    `bench:threads: ${cpus()[0]?.model ?? 'cpu'} × ${availableParallelism()}, ${rounds} rounds of ${duration} s`,
  );
  const ops = await shared();
  const rows = await http();
  log('\n| threads | path | req/s | p99 ms | CPU µs/req |\n|---|---|---|---|---|');
  for (const r of rows)
    log(
      `| ${r.threads} | ${r.path} | ${Math.round(median(r.rps))} | ${median(r.p99).toFixed(2)} | ${median(r.cpuUs).toFixed(1)} |`,
    );
  log('\n| op | threads | ops/s per thread (M) | total (M/s) |\n|---|---|---|---|');
  for (const o of ops)
    log(
      `| ${o.op} | ${o.threads} | ${o.perThread.map((n) => (n / 1e6).toFixed(2)).join(' / ')} | ${(o.perThread.reduce((a, b) => a + b, 0) / 1e6).toFixed(2)} |`,
    );
  mkdirSync(dirname(opt.out!), { recursive: true });
  writeFileSync(
    opt.out!,
    `${JSON.stringify({ date: new Date().toISOString(), cpus: availableParallelism(), rounds, duration, http: rows, shared: ops }, null, 2)}\n`,
  );
  log(`\nwrote ${opt.out}`);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:threads: ${(err as Error).stack ?? err}\n`);
  process.exit(1);
});

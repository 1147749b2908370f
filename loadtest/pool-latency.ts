/**
 * Does the worker pool keep the event loop responsive? Latency of GET /hello while a steady
 * stream of GET /fib/32 keeps the CPU busy, three ways, side by side in one run:
 *
 *   none    no fib load at all (the baseline)
 *   pool    /fib/32 on the worker pool (the route as shipped)
 *   inline  /fib/32 with `inline: true`: the same job on the event loop
 *
 * One server process (the built CLI) serves all three: a config with /hello, /fib/:n and
 * /inline/fib/:n. Rounds alternate the modes (none pool inline none pool inline …) so drift on
 * the machine hits all three alike. In each round:
 * - fib load: `--fib-conns` keep-alive connections, each sending the next /fib/N as soon as the
 *   previous answer arrives (closed loop: with cores − 1 pool threads and `cores` connections the
 *   pool always has one job running per thread and one waiting; inline, the event loop is busy
 *   all the time). Both modes do the same fib work per second, at most.
 * - hello probe: `--hello-conns` keep-alive connections sending /hello at a fixed pace
 *   (`--hello-rate` per second in all), timing each request from write to last byte.
 *
 * Why not autocannon or wrk: autocannon's histogram keeps whole milliseconds and hello's p50 here
 * is ≈ 0.1 ms; wrk measures throughput at saturation, not latency at a steady pace. The probe is a
 * few lines on raw sockets (one request in flight per connection), cheap enough to share the
 * machine with the server. It is a closed loop: a probe stuck behind a long fib does not send the
 * requests it would have sent meanwhile (coordinated omission), so inline numbers are a lower bound.
 *
 *   npm run build && node dist/loadtest/pool-latency.js [--rounds 3] [--duration 5] [--n 32]
 *
 * Prints a table and writes the numbers as JSON (`--out`, default loadtest/results/pool-latency.json).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, UsageError, whole } from './lib/cli.js';

const root = fileURLToPath(new URL('../..', import.meta.url)); // from dist/loadtest/
const cli = join(root, 'dist', 'src', 'cli.js');

const USAGE = `usage: npm run bench:pool -- [options]

  --rounds=N            rounds, each mode once per round (default 3)
  --duration=SEC        seconds measured per mode and round (default 5)
  --warmup=SEC          seconds of load before measuring (default 1)
  --n=N                 the fib job's argument, 1–90 (default 32)
  --hello-rate=N        /hello probes per second in all (default 1000)
  --hello-conns=N       connections the probes share (default 2)
  --fib-conns=N         connections sending /fib/N back to back (default: the core count)
  --threads=N|auto      the pool's threads (default auto)
  --out=FILE            where the JSON goes (default loadtest/results/pool-latency.json)
`;

const opt = parseCli(
  'pool-latency',
  USAGE,
  {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    warmup: { type: 'string', default: '1' },
    n: { type: 'string', default: '32' },
    'hello-rate': { type: 'string', default: '1000' },
    'hello-conns': { type: 'string', default: '2' },
    'fib-conns': { type: 'string', default: String(availableParallelism()) },
    threads: { type: 'string', default: 'auto' },
    out: { type: 'string', default: join(root, 'loadtest', 'results', 'pool-latency.json') },
  },
  (v) => {
    for (const k of ['rounds', 'duration', 'hello-rate', 'hello-conns', 'fib-conns'] as const)
      whole(k, v[k], 0, 1);
    whole('warmup', v.warmup, 0, 0);
    if (whole('n', v.n, 0, 1) > 90) throw new UsageError(`--n: "${v.n}" is over 90 (the route's limit)`);
    if (v.threads !== 'auto') whole('threads', v.threads, 0, 1);
  },
);
const ROUNDS = Number(opt.rounds);
const DURATION_MS = Number(opt.duration) * 1000;
const WARMUP_MS = Number(opt.warmup) * 1000;
const N = Number(opt.n);
const HELLO_RATE = Number(opt['hello-rate']);
const HELLO_CONNS = Number(opt['hello-conns']);
const FIB_CONNS = Number(opt['fib-conns']);

type Mode = 'none' | 'pool' | 'inline';
const MODES: Mode[] = ['none', 'pool', 'inline'];
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** One keep-alive HTTP/1.1 connection, one request at a time, Content-Length bodies only. */
class Conn {
  private buf: Buffer = Buffer.alloc(0);
  private waiting: ((r: { status: number; body: string }) => void) | undefined;
  private failed: ((e: Error) => void) | undefined;

  private constructor(private readonly socket: Socket) {
    socket.setNoDelay(true);
    socket.on('data', (c: Buffer) => {
      this.buf = this.buf.length === 0 ? c : Buffer.concat([this.buf, c]);
      this.parse();
    });
    socket.on('error', (e) => this.failed?.(e));
    socket.on('close', () => this.failed?.(new Error('connection closed')));
  }

  static open(port: number): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1', () => resolve(new Conn(s)));
      s.once('error', reject);
    });
  }

  get(path: string): Promise<{ status: number; body: string }> {
    return new Promise((resolve, reject) => {
      this.waiting = resolve;
      this.failed = reject;
      this.socket.write(`GET ${path} HTTP/1.1\r\nHost: bench\r\n\r\n`);
    });
  }

  private parse(): void {
    const end = this.buf.indexOf('\r\n\r\n');
    if (end === -1) return;
    const head = this.buf.subarray(0, end).toString('latin1');
    const m = /\r\ncontent-length: *(\d+)/i.exec(head);
    const len = m === null ? 0 : Number(m[1]);
    if (this.buf.length < end + 4 + len) return;
    const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
    this.buf = this.buf.subarray(end + 4 + len);
    const w = this.waiting;
    this.waiting = undefined;
    this.failed = undefined;
    w?.({ status: Number(head.slice(9, 12)), body });
  }

  close(): void {
    this.socket.destroy();
  }
}

async function startServer(): Promise<{ child: ChildProcess; port: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-pool-latency-'));
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(
    file,
    `listen:
  - { host: 127.0.0.1, port: 0 }
log: { level: info, access: off }
pool: { threads: ${opt.threads}, queue: 256 }
routes:
  - { path: /hello, handler: hello }
  - { path: "/fib/:n", handler: fib, timeout: 60s }
  - { path: "/inline/fib/:n", handler: fib, inline: true, timeout: 60s }
`,
  );
  const child = spawn(process.execPath, [cli, 'start', '-c', file], { stdio: ['ignore', 'pipe', 'pipe'] });
  process.on('exit', () => child.kill('SIGKILL'));
  let out = '';
  const port = await new Promise<number>((resolve, reject) => {
    const seen = (c: Buffer) => {
      out += c.toString();
      const m = /listening on 127\.0\.0\.1:(\d+)/.exec(out);
      if (m !== null) resolve(Number(m[1]));
    };
    child.stdout!.on('data', seen);
    child.stderr!.on('data', seen);
    child.once('exit', (code) => reject(new Error(`server exited (${code}):\n${out}`)));
    setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 10_000).unref();
  });
  return { child, port };
}

/** Keep fib requests flowing on `conns` connections until `stop()`; counts answers. */
function fibLoad(conns: Conn[], path: string) {
  let running = true;
  let done = 0;
  let errors = 0;
  const loops = conns.map(async (c) => {
    while (running) {
      const r = await c.get(path);
      if (r.status === 200) done++;
      else errors++;
    }
  });
  return {
    get done() {
      return done;
    },
    errors: () => errors,
    stop: async () => {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** Paced hello requests on every connection until `until`; latencies (ms) after `from`. */
async function helloProbe(
  conns: Conn[],
  from: number,
  until: number,
): Promise<{ lat: number[]; bad: number }> {
  const interval = (1000 * conns.length) / HELLO_RATE;
  const lat: number[] = [];
  let bad = 0;
  await Promise.all(
    conns.map(async (c, i) => {
      await sleep((interval * i) / conns.length); // spread the connections over the interval
      let next = performance.now();
      while (performance.now() < until) {
        const t0 = performance.now();
        const r = await c.get('/hello');
        const ms = performance.now() - t0;
        if (r.status !== 200 || r.body !== 'Hello world!') bad++;
        if (t0 >= from) lat.push(ms);
        next += interval;
        const wait = next - performance.now();
        if (wait > 0) await sleep(wait);
        else next = performance.now(); // behind: no burst to catch up
      }
    }),
  );
  return { lat, bad };
}

function pct(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
}

function summary(lat: number[]) {
  const s = [...lat].sort((a, b) => a - b);
  const r = (v: number) => Math.round(v * 1000) / 1000;
  return {
    count: s.length,
    p50: r(pct(s, 0.5)),
    p99: r(pct(s, 0.99)),
    p999: r(pct(s, 0.999)),
    max: r(s.at(-1) ?? 0),
  };
}

async function main(): Promise<void> {
  const { child, port } = await startServer();
  const hello = await Promise.all(Array.from({ length: HELLO_CONNS }, () => Conn.open(port)));
  const fib = await Promise.all(Array.from({ length: FIB_CONNS }, () => Conn.open(port)));
  // Warm up: JIT on both sides, the pool's threads started, fib compiled in the workers and inline.
  for (let i = 0; i < 20; i++) await hello[0]!.get('/hello');
  await Promise.all(fib.map((c) => c.get(`/fib/${N}`)));
  await fib[0]!.get(`/inline/fib/${N}`);

  const lat: Record<Mode, number[]> = { none: [], pool: [], inline: [] };
  const fibRate: Record<Mode, number[]> = { none: [], pool: [], inline: [] };
  const rounds: { round: number; mode: Mode; p50: number; p99: number; fib_per_s: number }[] = [];
  let bad = 0;
  for (let round = 1; round <= ROUNDS; round++) {
    for (const mode of MODES) {
      const load =
        mode === 'none' ? undefined : fibLoad(fib, mode === 'pool' ? `/fib/${N}` : `/inline/fib/${N}`);
      const start = performance.now();
      const from = start + WARMUP_MS;
      const until = from + DURATION_MS;
      let fibAtFrom = 0;
      const mark = setTimeout(() => {
        fibAtFrom = load?.done ?? 0;
      }, WARMUP_MS);
      const probe = await helloProbe(hello, from, until);
      clearTimeout(mark);
      const fibDone = (load?.done ?? 0) - fibAtFrom;
      await load?.stop();
      if (load !== undefined) bad += load.errors();
      bad += probe.bad;
      lat[mode].push(...probe.lat);
      const perS = Math.round((fibDone / DURATION_MS) * 1000 * 10) / 10;
      fibRate[mode].push(perS);
      const s = summary(probe.lat);
      rounds.push({ round, mode, p50: s.p50, p99: s.p99, fib_per_s: perS });
      process.stderr.write(
        `round ${round} ${mode.padEnd(6)} hello p50 ${s.p50.toFixed(3)} ms  p99 ${s.p99.toFixed(3)} ms  (${s.count} requests; fib ${perS}/s)\n`,
      );
      await sleep(300);
    }
  }
  for (const c of [...hello, ...fib]) c.close();
  child.kill('SIGTERM');

  const result = {
    date: new Date().toISOString(),
    machine: { cpu: cpus()[0]?.model ?? '?', cores: availableParallelism(), node: process.version },
    settings: {
      rounds: ROUNDS,
      duration_s: DURATION_MS / 1000,
      warmup_s: WARMUP_MS / 1000,
      n: N,
      hello_rate: HELLO_RATE,
      hello_conns: HELLO_CONNS,
      fib_conns: FIB_CONNS,
      pool_threads: opt.threads,
    },
    modes: Object.fromEntries(
      MODES.map((m) => [
        m,
        {
          ...summary(lat[m]),
          fib_per_s: Math.round((fibRate[m].reduce((a, b) => a + b, 0) / fibRate[m].length) * 10) / 10,
        },
      ]),
    ) as Record<Mode, ReturnType<typeof summary> & { fib_per_s: number }>,
    rounds,
    bad_responses: bad,
  };
  const base = result.modes.none;
  const row = (m: Mode) => {
    const s = result.modes[m];
    return `| ${m.padEnd(6)} | ${s.p50.toFixed(3).padStart(8)} | ${s.p99.toFixed(3).padStart(8)} | ${s.p999.toFixed(3).padStart(8)} | ${(s.p99 / base.p99).toFixed(1).padStart(10)}× | ${String(s.fib_per_s).padStart(6)} |`;
  };
  process.stdout.write(
    `\nGET /hello latency (ms) with a steady /fib/${N} load; ${ROUNDS} alternating rounds of ${DURATION_MS / 1000} s; ` +
      `${result.machine.cores} cores, ${result.machine.cpu}, node ${process.version}\n\n` +
      '| fib    |      p50 |      p99 |    p99.9 | p99 vs none | fib/s |\n' +
      '|--------|---------:|---------:|---------:|------------:|------:|\n' +
      `${MODES.map(row).join('\n')}\n` +
      (bad > 0 ? `\n${bad} bad responses\n` : ''),
  );
  mkdirSync(dirname(opt.out), { recursive: true });
  writeFileSync(opt.out, `${JSON.stringify(result, null, 2)}\n`);
  process.stdout.write(`\nwritten to ${opt.out}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`pool-latency: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});

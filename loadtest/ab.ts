/**
 * `npm run bench:ab -- --baseline=DIR [--path=/small] [--access=off|on] [--engine=uws|node] [--rounds=12] [--duration=3]`:
 * the CPU cost per request of this build against another build (DIR: a checkout or a copy with
 * `dist/`, e.g. main before a change), measured **paired**: both servers run at once, each loaded
 * by its own wrk for the same window, so the neighbours' load, the CPU frequency and the origin's
 * state fall on both alike. A window gives one ratio (this ÷ baseline, CPU µs per request from
 * /proc utime + stime); the median and the spread over windows are printed. On a machine shared
 * with other work this resolves differences of a few per cent where alternating rounds do not.
 *
 * Both servers get the bench's Switchyard config (contenders/switchyard.ts) and forward to one
 * raw-uWS origin. Nothing is written to disk but the configs in a temporary directory.
 *
 * `--this=ID --that=ID` pairs two other contenders the same way (contenders/index.ts ids), e.g.
 * `--this=switchyard --that=uws-undici` (Switchyard against the dispatch floor, no baseline needed)
 * or `--this=uws-undici-fields --that=uws-undici` (what a proxy's fields cost undici and uWS).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { LABELS, type Running, type ServerId, startServer } from './contenders/index.js';
import { runLoad } from './lib/load.js';
import { cpuSplitUs, stop } from './lib/proc.js';
import { median } from './lib/stats.js';
import { which } from './lib/tools.js';

const { values } = parseArgs({
  options: {
    baseline: { type: 'string' },
    path: { type: 'string', default: '/small' },
    access: { type: 'string', default: 'off' },
    engine: { type: 'string', default: 'uws' },
    rounds: { type: 'string', default: '12' },
    duration: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    this: { type: 'string' },
    that: { type: 'string' },
  },
});
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const on = values.access === 'on';
  const thisId = (values.this ?? (on ? 'switchyard-log' : 'switchyard')) as ServerId;
  const thatId = (values.that ?? (on ? 'switchyard-base-log' : 'switchyard-base')) as ServerId;
  for (const id of [thisId, thatId]) if (!(id in LABELS)) throw new Error(`unknown contender ${id}`);
  if (!values.baseline && (thisId.startsWith('switchyard-base') || thatId.startsWith('switchyard-base')))
    throw new Error('--baseline=DIR is required (a checkout with dist/ built)');
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk is needed (apt-get install -y wrk)');
  const distLoadtest = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(distLoadtest, '..', '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchyard-ab-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const ctx = {
    root,
    distLoadtest,
    tmp,
    originPort: 0,
    nginxBin: null,
    tools: {},
    nofile: 65535,
    startTimeoutMs: 15_000,
    baseline: path.resolve(values.baseline ?? '.'),
    engine: values.engine === 'node' ? ('node' as const) : ('uws' as const),
  };
  const started: Running[] = [];
  const start = async (id: ServerId) => {
    const r = await startServer(id, ctx);
    if (!r.ok) throw new Error(`${id}: ${r.reason}\n${r.output}`);
    started.push(r.server);
    return r.server;
  };
  try {
    const origin = await start('origin');
    ctx.originPort = origin.port;
    const a = await start(thisId);
    const b = await start(thatId);
    const rounds = Number(values.rounds);
    const duration = Number(values.duration);
    const connections = Number(values.connections);
    const tool = { kind: 'wrk' as const, bin: wrk };
    const spec = (s: Running, d: number) => ({
      url: `http://127.0.0.1:${s.port}${values.path}`,
      connections,
      threads: 1,
      durationSec: d,
      method: 'GET' as const,
    });
    log(
      `ab: GET ${values.path}, ${thisId} ÷ ${thatId}, ${ctx.engine} engine, access log ${values.access}, ${rounds} paired windows of ${duration} s`,
    );
    await Promise.all([runLoad(tool, spec(a, 2), tmp), runLoad(tool, spec(b, 2), tmp)]);
    const ratios: number[] = [];
    const userRatios: number[] = [];
    const sysRatios: number[] = [];
    const cpuA: number[] = [];
    const cpuB: number[] = [];
    const split = {
      a: { user: [] as number[], sys: [] as number[] },
      b: { user: [] as number[], sys: [] as number[] },
    };
    for (let i = 0; i < rounds; i++) {
      const a0 = cpuSplitUs(a.pid);
      const b0 = cpuSplitUs(b.pid);
      const [ra, rb] = await Promise.all([
        runLoad(tool, spec(a, duration), tmp),
        runLoad(tool, spec(b, duration), tmp),
      ]);
      const a1 = cpuSplitUs(a.pid);
      const b1 = cpuSplitUs(b.pid);
      const ua = (a1.user - a0.user) / ra.requests;
      const sa = (a1.sys - a0.sys) / ra.requests;
      const ub = (b1.user - b0.user) / rb.requests;
      const sb = (b1.sys - b0.sys) / rb.requests;
      const ca = ua + sa;
      const cb = ub + sb;
      cpuA.push(ca);
      cpuB.push(cb);
      split.a.user.push(ua);
      split.a.sys.push(sa);
      split.b.user.push(ub);
      split.b.sys.push(sb);
      ratios.push(ca / cb);
      userRatios.push(ua / ub);
      sysRatios.push(sa / sb);
      log(
        `  window ${String(i + 1).padStart(2)}: this ${ca.toFixed(1)} µs/req (${Math.round(ra.rps)} req/s), ` +
          `baseline ${cb.toFixed(1)} µs/req (${Math.round(rb.rps)} req/s), ratio ${(ca / cb).toFixed(3)} ` +
          `(user ${(ua / ub).toFixed(3)}, kernel ${(sa / sb).toFixed(3)}), load ${os.loadavg()[0]!.toFixed(2)}`,
      );
    }
    const quartiles = (xs: number[]) => {
      const sorted = [...xs].sort((x, y) => x - y);
      const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
      return `median ${median(xs).toFixed(3)} (quartiles ${q(0.25).toFixed(3)}–${q(0.75).toFixed(3)})`;
    };
    log(
      `ab: this ${median(cpuA).toFixed(1)} µs/req, baseline ${median(cpuB).toFixed(1)} µs/req; ratio ${quartiles(ratios)}`,
    );
    log(
      `    user space: this ${median(split.a.user).toFixed(1)}, baseline ${median(split.b.user).toFixed(1)} µs/req, ratio ${quartiles(userRatios)}`,
    );
    log(
      `    kernel:     this ${median(split.a.sys).toFixed(1)}, baseline ${median(split.b.sys).toFixed(1)} µs/req, ratio ${quartiles(sysRatios)}`,
    );
  } finally {
    for (const s of started) await stop(s.proc.child);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`ab: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

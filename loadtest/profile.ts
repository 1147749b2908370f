/**
 * `npm run bench:profile -- [--target=switchyard] [--with=ID] [--path=/small] [--seconds=6] [--kernel=N] [--rate=N]`:
 * where one contender's CPU goes under load, split between our code, undici, pino, Node's streams,
 * uWS and the kernel (docs/performance.md).
 *
 * The target runs with `--perf-basic-prof` (V8 names its JIT frames in /tmp/perf-PID.map) under
 * wrk -t1 -c64; `perf record -F 1999 -g` samples its CPU time (not wall time: a preempted thread
 * is not sampled), and each sample is attributed to the nearest JavaScript frame on its stack, or,
 * with none, to uWS's native send/receive or the event loop. CPU per request is samples × the
 * sampling period ÷ requests served while sampling. Needs `perf` (Debian: linux-perf) and wrk.
 * `--kernel=N` also lists the N kernel functions with the most samples of their own (is a
 * socket's kernel time the send itself, or waking the process at the other end?). `--rate=N` offers
 * about N req/s (wrk paced, as the bench's `proxy-rate`) instead of loading the target to saturation.
 *
 * `--with=ID` profiles a second contender at the same time, each loaded by its own wrk with half
 * the connections (as `bench:ab` pairs them), and ends with the two side by side: each share in µs
 * per request and their difference. Both see the same neighbours and the same machine, so the
 * difference between the shares is what the paired CPU ratio of the bench is made of.
 */

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { LABELS, localContext, type Running, type ServerId, startServer } from './contenders/index.js';
import { parseCli, UsageError, whole, wrapList } from './lib/cli.js';
import { runLoad } from './lib/load.js';
import { run, sleep, stop } from './lib/proc.js';
import { which } from './lib/tools.js';

const TARGETS: ServerId[] = [
  'switchyard',
  'switchyard-log',
  'switchyard-lean',
  'uws',
  'uws-read',
  'uws-undici',
  'uws-undici-fields',
  'uws-socket',
];

const USAGE = `usage: npm run bench:profile -- [options]

  --target=ID           the contender to profile (default switchyard); one of
${wrapList(TARGETS, 24)}
  --with=ID             a second one profiled at the same time, each loaded by its own wrk
  --path=/small         the path wrk requests (default /small)
  --seconds=N           seconds sampled (default 6)
  --top=N               functions listed (default 25)
  --kernel=N            also list the N kernel functions with the most samples of their own
  --rate=N              offer about N req/s instead of loading to saturation
`;

const values = parseCli(
  'profile',
  USAGE,
  {
    target: { type: 'string', default: 'switchyard' },
    with: { type: 'string' },
    path: { type: 'string', default: '/small' },
    seconds: { type: 'string', default: '6' },
    top: { type: 'string', default: '25' },
    kernel: { type: 'string', default: '0' },
    rate: { type: 'string' },
  },
  (v) => {
    for (const k of ['target', 'with'] as const) {
      const id = v[k];
      if (id !== undefined && !(TARGETS as string[]).includes(id))
        throw new UsageError(`--${k}: "${id}" is not one of ${TARGETS.join(', ')}`);
    }
    if (v.with === v.target) throw new UsageError('--with: a contender other than --target');
    if (!v.path.startsWith('/')) throw new UsageError(`--path: "${v.path}" does not start with /`);
    whole('seconds', v.seconds, 0, 1);
    whole('top', v.top, 0, 1);
    whole('kernel', v.kernel, 0, 0);
    whole('rate', v.rate, 0, 1);
  },
);
const HZ = 1999;
const log = (s: string) => process.stdout.write(`${s}\n`);

/** Whose JavaScript frame `sym` is, or undefined for one that says nothing (an unnamed stub). */
function jsOwner(s: string): string | undefined {
  if (s.includes('/dist/src/') || s.includes('/dist/routes/')) return 'our code';
  if (s.includes('/dist/loadtest/')) return 'the contender’s own JS';
  if (s.includes('node_modules/undici')) return 'undici (JS)';
  if (/pino|sonic-boom|quick-format/.test(s)) return 'pino + SonicBoom';
  if (s.includes('node:')) return 'Node streams, net, timers (JS)';
  if (s.includes('wasm')) return 'undici (llhttp wasm)';
  return undefined;
}

/**
 * The share of a sample: the nearest JavaScript frame's owner, or what native code it is in.
 * `uws`: the sample is in uWS.js's native code (or below it) called from that JavaScript frame —
 * an API call such as `writeHeader` or `getHeader`, which any server making that call pays.
 */
function owner(frames: { sym: string; dso: string }[]): { what: string; fn?: string; uws?: boolean } {
  let uws = false;
  for (const f of frames) {
    if (!f.sym.startsWith('JS:')) {
      uws ||= f.dso.includes('uws_');
      continue;
    }
    const what = jsOwner(f.sym);
    if (what !== undefined)
      return { what, fn: f.sym.replace(/^JS:\S?/, '').replace(/file:\/\/\//, '/'), uws };
  }
  if (frames.some((f) => f.dso.includes('uws_'))) return { what: 'uWS native' };
  if (frames.some((f) => /^(__send|__libc_recv|__libc_sendto)$/.test(f.sym)))
    return { what: 'uWS socket send/recv (libc → kernel)' };
  if (frames.some((f) => /uv__io_poll|uv_run|epoll/.test(f.sym))) return { what: 'event loop' };
  if (frames.some((f) => /GC|Scavenge|Heap|Sweep|Mark/.test(f.sym))) return { what: 'GC' };
  return { what: 'other native (malloc, V8 compiler …)' };
}

/** A profile's samples: in all, by share (with their kernel and uWS.js API parts), by function. */
interface Attribution {
  total: number;
  byWhat: Map<string, { n: number; kernel: number; uws: number }>;
  byFn: Map<string, number>;
  byKernelSym: Map<string, number>;
}

/** Reads `perf script` of `data` and attributes each sample (see `owner`). */
async function attribute(perf: string, data: string): Promise<Attribution> {
  const child = spawn(perf, ['script', '-i', data], { stdio: ['ignore', 'pipe', 'ignore'] });
  const rl = createInterface({ input: child.stdout });
  const byWhat = new Map<string, { n: number; kernel: number; uws: number }>();
  const byFn = new Map<string, number>();
  const byKernelSym = new Map<string, number>();
  let frames: { sym: string; dso: string }[] = [];
  let total = 0;
  const flush = () => {
    if (frames.length === 0) return;
    total++;
    const o = owner(frames);
    const e = byWhat.get(o.what) ?? { n: 0, kernel: 0, uws: 0 };
    e.n++;
    if (o.uws) e.uws++;
    if (frames[0]!.dso.includes('kernel')) {
      e.kernel++;
      byKernelSym.set(frames[0]!.sym, (byKernelSym.get(frames[0]!.sym) ?? 0) + 1);
    }
    byWhat.set(o.what, e);
    if (o.fn !== undefined) byFn.set(o.fn, (byFn.get(o.fn) ?? 0) + 1);
    frames = [];
  };
  for await (const line of rl) {
    if (line.trim() === '') {
      flush();
      continue;
    }
    const m = /^\s+[0-9a-f]+\s+(.*)\s+\((.*)\)\s*$/.exec(line);
    if (m) frames.push({ sym: m[1]!.trim().replace(/\+0x[0-9a-f]+$/, ''), dso: m[2]! });
  }
  flush();
  return { total, byWhat, byFn, byKernelSym };
}

/** Prints the shares (and µs per request: `usPerSample`). */
function report(a: Attribution, top: number, usPerSample: number, kernelTop: number): void {
  const { total, byWhat, byFn, byKernelSym } = a;
  const pct = (n: number) => `${((100 * n) / Math.max(1, total)).toFixed(1).padStart(5)} %`;
  log(`\n${total} samples; share of the process's CPU by the nearest JavaScript frame:`);
  const us = (n: number) => `${(n * usPerSample).toFixed(1).padStart(5)} µs/req`;
  for (const [what, e] of [...byWhat].sort((a, b) => b[1].n - a[1].n))
    log(
      `  ${pct(e.n)} ${us(e.n)}  ${what}  (in the kernel: ${pct(e.kernel).trim()}, ${us(e.kernel).trim()}` +
        `${e.uws > 0 ? `; in uWS.js API calls it made: ${pct(e.uws).trim()}, ${us(e.uws).trim()}` : ''})`,
    );
  log(`\nnearest JavaScript function, top ${top}:`);
  for (const [fn, n] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, top)) log(`  ${pct(n)}  ${fn}`);
  if (kernelTop > 0) {
    log(`\nkernel functions (self), top ${kernelTop}:`);
    for (const [sym, n] of [...byKernelSym].sort((a, b) => b[1] - a[1]).slice(0, kernelTop))
      log(`  ${pct(n)} ${us(n)}  ${sym}`);
  }
}

/** One target's profile and what one sample is worth in µs per request. */
interface Profiled {
  label: string;
  a: Attribution;
  usPerSample: number;
}

const OWN_JS = new Set(['our code', 'the contender’s own JS']);

/** Samples by share; ours and a contender's own JavaScript under one name, so that they line up. */
function shares(a: Attribution, part: 'n' | 'kernel'): Map<string, number> {
  const m = new Map<string, number>();
  for (const [what, e] of a.byWhat) {
    const k = OWN_JS.has(what) ? 'the server’s own JavaScript' : what;
    m.set(k, (m.get(k) ?? 0) + e[part]);
  }
  return m;
}

/** µs per request of both for every key of either, the largest differences first. */
function pairs(x: Profiled, y: Profiled, mx: Map<string, number>, my: Map<string, number>) {
  return [...new Set([...mx.keys(), ...my.keys()])]
    .map((k) => ({ k, x: (mx.get(k) ?? 0) * x.usPerSample, y: (my.get(k) ?? 0) * y.usPerSample }))
    .sort((p, q) => Math.abs(q.x - q.y) - Math.abs(p.x - p.y));
}

/** Two profiles taken at the same time, share by share in µs per request, and the difference. */
function compare(x: Profiled, y: Profiled, kernelTop: number): void {
  const f = (v: number) => v.toFixed(1).padStart(6);
  const kx = shares(x.a, 'kernel');
  const ky = shares(y.a, 'kernel');
  log(`\nside by side, µs per request (kernel part in brackets): ${x.label} | ${y.label} | difference`);
  for (const r of pairs(x, y, shares(x.a, 'n'), shares(y.a, 'n'))) {
    const ak = (kx.get(r.k) ?? 0) * x.usPerSample;
    const bk = (ky.get(r.k) ?? 0) * y.usPerSample;
    log(`  ${f(r.x)} (${f(ak).trim()}) | ${f(r.y)} (${f(bk).trim()}) | ${f(r.x - r.y)}  ${r.k}`);
  }
  const tx = x.a.total * x.usPerSample;
  const ty = y.a.total * y.usPerSample;
  log(`  ${f(tx)}          | ${f(ty)}          | ${f(tx - ty)}  in all (ratio ${(tx / ty).toFixed(3)})`);
  if (kernelTop > 0) {
    log(`\nkernel functions (self) with the largest differences, µs per request, top ${kernelTop}:`);
    for (const r of pairs(x, y, x.a.byKernelSym, y.a.byKernelSym).slice(0, kernelTop))
      log(`  ${f(r.x)} | ${f(r.y)} | ${f(r.x - r.y)}  ${r.k}`);
  }
}

async function main(): Promise<void> {
  const targets = [values.target as ServerId];
  if (values.with !== undefined) targets.push(values.with as ServerId);
  const kernelTop = Number(values.kernel);
  const perf = which('perf');
  const wrk = which('wrk');
  if (!perf || !wrk)
    throw new Error('needs perf (apt-get install -y linux-perf) and wrk (apt-get install -y wrk)');
  const ctx = localContext(path.dirname(fileURLToPath(import.meta.url)), 'profile');
  const tmp = ctx.tmp;
  const started: Running[] = [];
  try {
    if (targets.some((t) => t !== 'uws' && t !== 'uws-read')) {
      const o = await startServer('origin', ctx);
      if (!o.ok) throw new Error(`origin: ${o.reason}`);
      started.push(o.server);
      ctx.originPort = o.server.port;
    }
    const servers: Running[] = [];
    for (const t of targets) {
      // V8 writes an isolate log beside the perf map; keep it in the scratch directory.
      const r = await startServer(t, { ...ctx, nodeFlags: ['--perf-basic-prof'], nodeCwd: tmp });
      if (!r.ok) throw new Error(`${t}: ${r.reason}\n${r.output}`);
      started.push(r.server);
      servers.push(r.server);
    }
    const seconds = Number(values.seconds);
    const rate = values.rate === undefined ? undefined : Number(values.rate);
    // Two targets share the machine as in bench:ab: half the connections (and the rate) each.
    const share = servers.length;
    const spec = (s: Running, d: number) => ({
      url: `http://127.0.0.1:${s.port}${values.path}`,
      connections: 64 / share,
      threads: 1,
      durationSec: d,
      method: 'GET' as const,
      offeredRps: rate === undefined ? undefined : rate / share,
    });
    const tool = { kind: 'wrk' as const, bin: wrk };
    log(
      `profile: ${targets.map((t) => LABELS[t]).join(' and, at the same time, ')}, GET ${values.path}` +
        `${rate === undefined ? '' : ` offered ≈ ${rate} req/s`}, ${seconds} s sampled at ${HZ} Hz`,
    );
    await Promise.all(servers.map((s) => runLoad(tool, spec(s, 3), tmp))); // warm-up: JIT
    const loads = servers.map((s) => runLoad(tool, spec(s, seconds + 2), tmp));
    await sleep(1000);
    const data = servers.map((_, i) => path.join(tmp, `perf-${i}.data`));
    const recs = await Promise.all(
      servers.map((s, i) =>
        run(
          perf,
          [
            'record',
            '-F',
            String(HZ),
            '-g',
            '-p',
            String(s.pid),
            '-o',
            data[i]!,
            '--',
            'sleep',
            String(seconds),
          ],
          (seconds + 30) * 1000,
        ),
      ),
    );
    const results = await Promise.all(loads);
    const found: Profiled[] = [];
    for (let i = 0; i < servers.length; i++) {
      if (!existsSync(data[i]!)) throw new Error(`perf record wrote nothing: ${recs[i]!.stderr.trim()}`);
      const requests = (results[i]!.requests * seconds) / (seconds + 2);
      const a = await attribute(perf, data[i]!);
      const usPerSample = 1e6 / HZ / requests;
      if (servers.length === 2) log(`\n=== ${LABELS[targets[i]!]}`);
      report(a, Number(values.top), usPerSample, kernelTop);
      log(
        `\n${Math.round(results[i]!.rps)} req/s; ≈ ${(a.total * usPerSample).toFixed(1)} µs CPU per request ` +
          `(load average ${os.loadavg()[0]!.toFixed(2)})`,
      );
      found.push({ label: LABELS[targets[i]!], a, usPerSample });
    }
    if (found.length === 2) compare(found[0]!, found[1]!, kernelTop);
  } finally {
    for (const x of started.reverse()) await stop(x.proc.child);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`profile: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

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
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LABELS,
  localContext,
  type Running,
  type ServerId,
  type StartContext,
  startServer,
} from './contenders/index.js';
import { oneOf, parseCli, UsageError, whole, wrapList } from './lib/cli.js';
import { type PairedWindow, pairedWindows } from './lib/paired.js';
import { stop } from './lib/proc.js';
import { median } from './lib/stats.js';
import { which } from './lib/tools.js';

const CONTENDERS = Object.keys(LABELS).filter((id) => id !== 'origin');
const USAGE = `usage: npm run bench:ab -- [options]

  --baseline=DIR        a checkout of Switchyard with dist/ built: this build ÷ that one
  --this=ID --that=ID   pair two contenders instead (default: switchyard ÷ switchyard-base); ids:
${wrapList(CONTENDERS, 24)}
  --path=/small         the path each wrk requests (default /small)
  --access=off|on       the access log of the Switchyard contenders (default off)
  --engine=uws|node     Switchyard's engine (default uws)
  --rounds=N            paired windows (default 12)
  --duration=SEC        seconds per window (default 3)
  --connections=N       connections per wrk (default 32)
`;

const values = parseCli(
  'ab',
  USAGE,
  {
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
  (v) => {
    oneOf('access', v.access, ['off', 'on']);
    oneOf('engine', v.engine, ['uws', 'node']);
    if (!v.path.startsWith('/')) throw new UsageError(`--path: "${v.path}" does not start with /`);
    for (const k of ['rounds', 'duration', 'connections'] as const) whole(k, v[k], 0, 1);
    for (const k of ['this', 'that'] as const) {
      const id = v[k];
      if (id !== undefined && !CONTENDERS.includes(id))
        throw new UsageError(`--${k}: "${id}" is not a contender (see the ids above)`);
    }
    const uses = (k: 'this' | 'that', dflt: string) => (v[k] ?? dflt).startsWith('switchyard-base');
    if (v.baseline === undefined && (uses('this', 'switchyard') || uses('that', 'switchyard-base')))
      throw new UsageError('--baseline=DIR is needed (a checkout with dist/ built), or --this and --that');
  },
);
const log = (s: string) => process.stdout.write(`${s}\n`);

async function main(): Promise<void> {
  const on = values.access === 'on';
  const thisId = (values.this ?? (on ? 'switchyard-log' : 'switchyard')) as ServerId;
  const thatId = (values.that ?? (on ? 'switchyard-base-log' : 'switchyard-base')) as ServerId;
  const wrk = which('wrk');
  if (!wrk) throw new Error('wrk is needed (apt-get install -y wrk)');
  const ctx: StartContext = {
    ...localContext(path.dirname(fileURLToPath(import.meta.url)), 'ab'),
    baseline: path.resolve(values.baseline ?? '.'),
    engine: values.engine === 'node' ? 'node' : 'uws',
  };
  const tmp = ctx.tmp;
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
    log(
      `ab: GET ${values.path}, ${thisId} ÷ ${thatId}, ${ctx.engine} engine, access log ${values.access}, ${rounds} paired windows of ${duration} s`,
    );
    const r = await pairedWindows({ kind: 'wrk', bin: wrk }, a, b, {
      path: values.path,
      connections: Number(values.connections),
      rounds,
      durationSec: duration,
      warmupSec: 2,
      tmp,
      onWindow: (w, i) =>
        log(
          `  window ${String(i + 1).padStart(2)}: this ${w.cpuA.toFixed(1)} µs/req (${Math.round(w.rpsA)} req/s), ` +
            `baseline ${w.cpuB.toFixed(1)} µs/req (${Math.round(w.rpsB)} req/s), ratio ${w.ratio.toFixed(3)} ` +
            `(user ${(w.userA / w.userB).toFixed(3)}, kernel ${(w.sysA / w.sysB).toFixed(3)}), load ${w.load.toFixed(2)}`,
        ),
    });
    if (r.median === undefined) throw new Error('no window served requests on both sides');
    log(
      `ab: this ${r.cpuA!.toFixed(1)} µs/req, baseline ${r.cpuB!.toFixed(1)} µs/req; ` +
        `ratio median ${r.median.toFixed(3)} (quartiles ${r.q1!.toFixed(3)}–${r.q3!.toFixed(3)})`,
    );
    const med = (f: (w: PairedWindow) => number) => median(r.windows.map(f)).toFixed(1);
    log(
      `    user space: this ${med((w) => w.userA)}, baseline ${med((w) => w.userB)} µs/req, ratio median ${r.userRatio!.toFixed(3)}`,
    );
    log(
      `    kernel:     this ${med((w) => w.sysA)}, baseline ${med((w) => w.sysB)} µs/req, ratio median ${r.sysRatio!.toFixed(3)}`,
    );
  } finally {
    for (const s of started) await stop(s.proc.child);
  }
}

main().catch((err: Error) => {
  process.stderr.write(`ab: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

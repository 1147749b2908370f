/**
 * `npm run bench [-- --quick] [-- --only=proxy-small,hello]`: Switchyard side by side with nginx,
 * HAProxy, Caddy, fastify, raw uWS.js and the floors of its own stack on this machine, in one run,
 * reported as ratios and as CPU µs per request.
 *
 * 1. start a raw-uWS origin and every contender as child processes on free 127.0.0.1 ports;
 * 2. run the scenarios (idle connections, three proxy scenarios, hello, mixed) with wrk, in
 *    alternating rounds of fixed duration;
 * 3. write loadtest/results/<date>-<host>.json, one SVG chart per throughput scenario
 *    (loadtest/results/<scenario>.svg) and loadtest/RESULTS.md, and print the tables.
 *
 * A contender that does not start (Switchyard while it is being written) is reported as such with
 * its output; the run goes on without it. Every child is killed on exit, error or Ctrl-C.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  LABELS,
  type ServerId,
  type StartContext,
  type StartResult,
  startServer,
} from './contenders/index.js';
import { usageExit } from './lib/cli.js';
import { checkGoals } from './lib/goals.js';
import { runIdle } from './lib/idle.js';
import { autocannonScript, type LoadTool } from './lib/load.js';
import { describeMachine } from './lib/machine.js';
import { runMixed } from './lib/mixed.js';
import { type Options, parseOptions, USAGE } from './lib/options.js';
import { type PairedRow, pairedWindows } from './lib/paired.js';
import { run, stop } from './lib/proc.js';
import { markdown, type Report, type ServerStatus } from './lib/report.js';
import { keptSections } from './lib/results-md.js';
import type { RunEnv } from './lib/runenv.js';
import { IDLE, PAIRED, type ScenarioResult, THROUGHPUT } from './lib/scenarios.js';
import { throughputSvg } from './lib/svg.js';
import { runThroughput } from './lib/throughput.js';
import { ensureTool, versionOf } from './lib/tools.js';

const log = (line: string) => process.stdout.write(`${line}\n`);

/** Servers that answer by themselves; every other one forwards to the origin. */
const HANDLER_ONLY = new Set<ServerId>(['uws', 'uws-read', 'fastify', 'node-http']);

async function main(): Promise<void> {
  const t0 = Date.now();
  const loadStart = os.loadavg();
  let opts: Options;
  try {
    opts = parseOptions(process.argv.slice(2));
  } catch (err) {
    usageExit('bench', USAGE, (err as Error).message);
  }
  const distLoadtest = path.dirname(fileURLToPath(import.meta.url));
  const root = findRoot(distLoadtest);
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'switchyard-bench-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));

  const needed = neededServers(opts);
  log(
    `bench: ${opts.quick ? 'quick, ' : ''}scenarios ${[...opts.only].join(', ')}; servers ${[...needed].join(', ')}`,
  );

  const tool = await loadTool(opts);
  const toolName =
    tool.kind === 'wrk'
      ? (await versionOf(tool.bin, ['-v'])).replace(/\s+Copyright.*$/, '')
      : 'autocannon (fallback: wrk not available)';
  let nginxBin: string | null = null;
  let nginxWhy: string | undefined;
  if (needed.has('nginx')) {
    const n = await ensureTool('nginx', 'nginx-light', opts.install, log);
    nginxBin = n.path;
    nginxWhy = n.why;
    if (!nginxBin) log(`bench: nginx skipped: ${nginxWhy}`);
  }

  const tools: StartContext['tools'] = {};
  for (const [cmd, pkg] of [
    ['haproxy', 'haproxy'],
    ['caddy', 'caddy'],
  ] as const) {
    if (!needed.has(cmd)) continue;
    tools[cmd] = await ensureTool(cmd, pkg, opts.install, log);
    if (!tools[cmd].path) log(`bench: ${cmd} skipped: ${tools[cmd].why}`);
  }

  const ctx: StartContext = {
    root,
    distLoadtest,
    tmp,
    originPort: 0,
    nginxBin,
    nginxWhy,
    tools,
    nofile: await hardNofile(),
    startTimeoutMs: opts.quick ? 8000 : 15_000,
    ...(opts.baseline === undefined ? {} : { baseline: path.resolve(opts.baseline) }),
  };
  const servers = new Map<ServerId, StartResult>();
  const statuses: Partial<Record<ServerId, ServerStatus>> = {};
  const note = (id: ServerId, r: StartResult) => {
    servers.set(id, r);
    if (r.ok) {
      statuses[id] = { status: 'started' };
      log(`  started ${LABELS[id]} on 127.0.0.1:${r.server.port} (pid ${r.server.pid})`);
    } else {
      statuses[id] = { status: 'did not start', reason: r.reason, output: r.output };
      log(`  ${LABELS[id]}: ${r.reason}`);
      if (r.output) log(indent(r.output.split('\n').slice(-15).join('\n')));
    }
  };

  const usesOrigin = [...needed].some((id) => !HANDLER_ONLY.has(id));
  let origin: StartResult | undefined;
  if (usesOrigin) {
    origin = await startServer('origin', ctx);
    note('origin', origin);
    if (origin.ok) ctx.originPort = origin.server.port;
  }
  for (const id of needed) {
    if (origin && !origin.ok && !HANDLER_ONLY.has(id)) {
      note(id, { ok: false, reason: 'did not start: the origin did not start', output: '' });
      continue;
    }
    note(id, await startServer(id, ctx));
  }

  const env: RunEnv = { opts, tool, tmp, distLoadtest, servers, log };
  const scenarios: ScenarioResult[] = [];
  // Idle first: memory is read on servers that have not been through heavy load yet.
  if (opts.only.has('idle')) {
    log(`idle: ${opts.idleConnections} keep-alive connections`);
    scenarios.push(await runIdle(env));
  }
  for (const def of THROUGHPUT) {
    if (!opts.only.has(def.id)) continue;
    log(
      `${def.id}: ${def.method} ${def.path}, ${opts.connections} connections, ${opts.durationSec} s × ${opts.rounds}`,
    );
    scenarios.push(await runThroughput(def, env));
  }
  if (opts.only.has('mixed')) {
    log('mixed: /hello beside /fib/32 on Switchyard');
    scenarios.push(await runMixed(env));
  }
  const paired: PairedRow[] = [];
  if (opts.pairedRounds > 0 && tool.kind === 'wrk') {
    for (const def of PAIRED) {
      if (!opts.only.has(def.scenario)) continue;
      const a = servers.get(def.a);
      const b = servers.get(def.b);
      if (!a?.ok || !b?.ok) continue;
      log(`paired: ${def.a} ÷ ${def.b}, GET ${def.path}, ${opts.pairedRounds} windows of 3 s`);
      const r = await pairedWindows(tool, a.server, b.server, {
        path: def.path,
        connections: Math.max(1, opts.connections >> 1),
        rounds: opts.pairedRounds,
        durationSec: opts.quick ? 1 : 3,
        warmupSec: opts.quick ? 0 : 1,
        tmp,
      });
      paired.push({ ...def, ...r, windowsCounted: r.windows.length });
      if (r.median !== undefined)
        log(`  ${r.median.toFixed(3)} (quartiles ${r.q1!.toFixed(3)}–${r.q3!.toFixed(3)})`);
    }
  }

  for (const r of servers.values()) if (r.ok) await stop(r.server.proc.child);

  const report: Report = {
    machine: await describeMachine(root, nginxBin, toolName),
    options: { ...opts, only: [...opts.only], contenders: [...opts.contenders] },
    servers: statuses,
    scenarios,
    paired,
    goals: checkGoals(scenarios, paired),
    loadAverage: { start: loadStart, end: os.loadavg() },
    elapsedSec: Math.round((Date.now() - t0) / 100) / 10,
  };
  const md = markdown(report);
  log(`\n${md}`);
  if (opts.save) {
    const dir = path.join(root, 'loadtest', 'results');
    mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${report.machine.date.slice(0, 10)}-${report.machine.hostname}.json`);
    writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
    for (const s of scenarios) {
      if (s.kind === 'throughput') writeFileSync(path.join(dir, `${s.id}.svg`), throughputSvg(s));
    }
    const results = path.join(root, 'loadtest', 'RESULTS.md');
    const kept = existsSync(results) ? keptSections(readFileSync(results, 'utf8')) : '';
    writeFileSync(
      results,
      kept === ''
        ? md
        : `${md.trimEnd()}

${kept}`,
    );
    // report.ts already lays tables out as Biome does; this only guards `npm run lint` against
    // an odd character in a failure reason. Best effort: a missing Biome changes nothing.
    const biome = path.join(root, 'node_modules', '.bin', 'biome');
    if (existsSync(biome))
      await run(biome, ['format', '--write', 'loadtest/RESULTS.md'], 30_000, { cwd: root });
    log(`bench: wrote ${path.relative(root, file)} and loadtest/RESULTS.md`);
  }
  log(`bench: done in ${report.elapsedSec} s`);
}

/** The servers the selected scenarios use, minus those filtered out by --contenders. */
function neededServers(opts: Options): Set<ServerId> {
  const ids = new Set<ServerId>();
  if (opts.only.has('idle')) for (const id of IDLE.contenders) ids.add(id);
  for (const def of THROUGHPUT) if (opts.only.has(def.id)) for (const id of def.contenders) ids.add(id);
  if (opts.only.has('mixed')) ids.add('switchyard');
  if (opts.baseline === undefined) {
    ids.delete('switchyard-base');
    ids.delete('switchyard-base-log');
  }
  if (opts.contenders.size > 0) for (const id of ids) if (!opts.contenders.has(id)) ids.delete(id);
  return ids;
}

async function loadTool(opts: Options): Promise<LoadTool> {
  if (opts.tool === 'wrk') {
    const wrk = await ensureTool('wrk', 'wrk', opts.install, log);
    if (wrk.path) return { kind: 'wrk', bin: wrk.path };
    log(`bench: ${wrk.why}; falling back to autocannon`);
  }
  const script = autocannonScript();
  if (!script) throw new Error('neither wrk nor autocannon (npm devDependency) is available');
  return { kind: 'autocannon', script };
}

async function hardNofile(): Promise<number> {
  const r = await run('bash', ['-c', 'ulimit -Hn'], 5000);
  const n = Number(r.stdout.trim());
  return Number.isFinite(n) && n > 0 ? Math.min(n, 65535) : 65535;
}

/** The directory above `from` that holds package.json and loadtest/ (dist/loadtest → repo root). */
function findRoot(from: string): string {
  let dir = from;
  while (dir !== path.dirname(dir)) {
    if (existsSync(path.join(dir, 'package.json')) && existsSync(path.join(dir, 'loadtest'))) return dir;
    dir = path.dirname(dir);
  }
  throw new Error(`no repository root above ${from}`);
}

function indent(s: string): string {
  return s
    .split('\n')
    .map((l) => `      ${l}`)
    .join('\n');
}

main().catch((err: Error) => {
  process.stderr.write(`bench: ${err.stack ?? err.message}\n`);
  process.exit(1);
});

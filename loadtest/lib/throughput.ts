/**
 * Throughput scenarios: every contender in turn under the same fixed load, in alternating rounds
 * (A B C, B C A, C A B …) so that drift of the machine lands on all of them alike; ratios are taken
 * within a round and their median reported.
 */
import os from 'node:os';
import { LABELS, type Running } from '../contenders/index.js';
import { type LoadResult, runLoad } from './load.js';
import { request } from './net.js';
import { cpuTreeUs } from './proc.js';
import { type RunEnv, serverOf } from './runenv.js';
import type { ThroughputDef, ThroughputResult, ThroughputRow } from './scenarios.js';
import { median, sum } from './stats.js';

export async function runThroughput(def: ThroughputDef, env: RunEnv): Promise<ThroughputResult> {
  const { opts } = env;
  const body = def.bodyBytes ? Buffer.alloc(def.bodyBytes, 'x') : undefined;
  const rows: ThroughputRow[] = [];
  const live = new Map<ThroughputRow, Running>();
  for (const id of def.contenders) {
    if (id.startsWith('switchyard-base') && env.opts.baseline === undefined) continue;
    const row: ThroughputRow = { server: id, label: LABELS[id], status: 'ok', samples: [] };
    rows.push(row);
    const s = serverOf(env, id);
    if (!s.ok) {
      Object.assign(row, { status: s.status, reason: s.reason });
      continue;
    }
    try {
      const why = def.expect(await request(s.server.port, def.method, def.path, body, 10_000));
      if (why) Object.assign(row, { status: 'skipped', reason: `${def.method} ${def.path}: ${why}` });
      else live.set(row, s.server);
    } catch (err) {
      Object.assign(row, {
        status: 'skipped',
        reason: `${def.method} ${def.path}: ${(err as Error).message}`,
      });
    }
  }
  for (const row of rows) if (row.status !== 'ok') env.log(`  ${def.id}: ${row.label} — ${row.reason}`);

  if (def.offeredRps !== undefined && env.tool.kind !== 'wrk') {
    for (const row of live.keys())
      Object.assign(row, { status: 'skipped', reason: 'an offered rate needs wrk' });
    live.clear();
  }
  const active = [...live.keys()];
  for (let round = 0; round < opts.rounds; round++) {
    const order = active.map((_, i) => active[(i + round) % active.length]!);
    for (const row of order) {
      const server = live.get(row)!;
      if (row.status !== 'ok') continue;
      const ended = server.proc.ended();
      if (ended !== null) {
        Object.assign(row, { status: 'failed', reason: `exited during the run (${ended})` });
        continue;
      }
      const spec = {
        url: `http://127.0.0.1:${server.port}${def.path}`,
        connections: opts.connections,
        threads: opts.threads,
        method: def.method,
        bodyBytes: def.bodyBytes,
        offeredRps: def.offeredRps,
      };
      try {
        if (round === 0 && opts.warmupSec > 0) {
          await runLoad(env.tool, { ...spec, durationSec: opts.warmupSec }, env.tmp);
        }
        const cpu0 = cpuTreeUs(server.pid);
        const r = await runLoad(env.tool, { ...spec, durationSec: opts.durationSec }, env.tmp);
        const cpu = r.requests > 0 ? (cpuTreeUs(server.pid) - cpu0) / r.requests : 0;
        row.samples[round] = r;
        (row.cpuSamples ??= [])[round] = cpu;
        const load = os.loadavg()[0]!;
        (row.loadSamples ??= [])[round] = load;
        env.log(
          `  ${def.id.padEnd(12)} round ${round + 1}/${opts.rounds}  ${row.label.padEnd(30)} ${fmt(r)}  cpu ${cpu.toFixed(1)} µs/req  load ${load.toFixed(2)}`,
        );
      } catch (err) {
        Object.assign(row, { status: 'failed', reason: (err as Error).message });
        env.log(`  ${def.id}: ${row.label} failed: ${(err as Error).message}`);
      }
    }
  }

  summarise(rows, def);
  return {
    kind: 'throughput',
    id: def.id,
    title: def.title,
    what: def.what,
    request: `${def.method} ${def.path}${def.bodyBytes ? ` (${def.bodyBytes}-byte body)` : ''}`,
    reference: def.reference,
    floor: def.floor,
    fastify: def.fastify,
    rows,
  };
}

function summarise(rows: ThroughputRow[], def: ThroughputDef): void {
  const byId = new Map(rows.map((r) => [r.server, r]));
  for (const row of rows) {
    const samples = row.samples.filter((s): s is LoadResult => s !== undefined);
    if (samples.length === 0) continue;
    row.rps = median(samples.map((s) => s.rps));
    row.p50 = median(samples.map((s) => s.p50));
    row.p99 = median(samples.map((s) => s.p99));
    const cpu = (row.cpuSamples ?? []).filter((c): c is number => c !== undefined && c > 0);
    if (cpu.length > 0) row.cpuUs = median(cpu);
    const load = (row.loadSamples ?? []).filter((l): l is number => l !== undefined);
    if (load.length > 0) row.load = median(load);
    row.httpErrors = sum(samples.map((s) => s.httpErrors));
    row.socketErrors = sum(samples.map((s) => s.socketErrors));
    const ref = byId.get(def.reference);
    row.vsReference = ratio(row, ref, rpsOf);
    row.vsFastify = ratio(row, byId.get(def.fastify), rpsOf);
    row.cpuVsReference = ratio(row, ref, cpuOf);
    row.cpuVsFloor = ratio(row, byId.get(def.floor), cpuOf);
    row.p99VsReference = ratio(row, ref, p99Of);
  }
}

type Measure = (row: ThroughputRow, round: number) => number | undefined;
const rpsOf: Measure = (row, i) => row.samples[i]?.rps;
const p99Of: Measure = (row, i) => row.samples[i]?.p99;
const cpuOf: Measure = (row, i) => row.cpuSamples?.[i];

/** Median over the rounds where both have a positive figure of (row's ÷ other's in that round). */
export function ratio(row: ThroughputRow, other: ThroughputRow | undefined, of: Measure): number | undefined {
  if (!other) return undefined;
  const rs: number[] = [];
  for (let i = 0; i < row.samples.length; i++) {
    const a = of(row, i);
    const b = of(other, i);
    if (a !== undefined && b !== undefined && a > 0 && b > 0) rs.push(a / b);
  }
  return rs.length > 0 ? median(rs) : undefined;
}

/** Median over rounds of (row's CPU per request ÷ other's), for the goals table. */
export const cpuRatio = (row: ThroughputRow, other: ThroughputRow | undefined) => ratio(row, other, cpuOf);

/** Median over rounds of (row's req/s ÷ other's), exported for the goals table. */
export const rpsRatio = (row: ThroughputRow, other: ThroughputRow | undefined) => ratio(row, other, rpsOf);

export function fmt(r: LoadResult): string {
  return (
    `${Math.round(r.rps).toLocaleString('en-US').padStart(9)} req/s  p50 ${r.p50.toFixed(2)} ms  ` +
    `p99 ${r.p99.toFixed(2)} ms  errors ${r.httpErrors} http / ${r.socketErrors} socket`
  );
}

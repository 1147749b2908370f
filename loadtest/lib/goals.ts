/**
 * Issue 18's performance goals, checked against one run's figures: every ratio is the median of
 * per-round ratios between two contenders measured in the same round.
 */

import { type PairedRow, pairedRatio } from './paired.js';
import type { ScenarioResult, ThroughputResult, ThroughputRow } from './scenarios.js';
import { cpuRatio, rpsRatio } from './throughput.js';

export interface GoalRow {
  goal: string;
  /** The measured ratio, or undefined when a contender of it was not measured. */
  measured?: number;
  /**
   * The same comparison from paired windows (both servers loaded at once, lib/paired.ts): a CPU
   * ratio for CPU goals; for the access-log goals 1 ÷ (log on's CPU ÷ log off's), the share of
   * req/s the log leaves a server bound by its CPU. Undefined where pairing says nothing (req/s
   * and p99 against another server).
   */
  paired?: number;
  /** absent for a row that only gives context (where the distance to a goal lies) */
  limit?: number;
  /** 'max': measured must be ≤ limit; 'min': ≥ limit; 'info': context, no limit. */
  kind: 'max' | 'min' | 'info';
  holds?: boolean;
}

const inverse = (x: number | undefined) => (x === undefined ? undefined : 1 / x);

export function checkGoals(scenarios: ScenarioResult[], paired: PairedRow[] = []): GoalRow[] {
  const find = (id: string) =>
    scenarios.find((s): s is ThroughputResult => s.kind === 'throughput' && s.id === id);
  const row = (s: ThroughputResult | undefined, id: string): ThroughputRow | undefined =>
    s?.rows.find((r) => r.server === id && r.status === 'ok');
  const proxy = find('proxy-small');
  const hello = find('hello');
  const rate = find('proxy-rate');
  const sy = row(proxy, 'switchyard');
  const hy = row(hello, 'switchyard');
  /** CPU per request of `a` ÷ `b` in scenario `s` (median of per-round ratios), when both ran. */
  const cpu = (s: ThroughputResult | undefined, a: string, b: string) => {
    const r = row(s, a);
    return r ? cpuRatio(r, row(s, b)) : undefined;
  };
  const logOn = (s: ThroughputResult | undefined, base: ThroughputRow | undefined) => {
    const on = row(s, 'switchyard-log');
    return on && base ? rpsRatio(on, base) : undefined;
  };
  const goals: Omit<GoalRow, 'holds'>[] = [
    {
      goal: 'proxy: CPU/req ≤ 1.2× uWS + undici dispatch floor',
      measured: sy?.cpuVsFloor,
      paired: pairedRatio(paired, 'switchyard', 'uws-undici', '/small'),
      limit: 1.2,
      kind: 'max',
    },
    { goal: 'proxy: req/s ≥ 0.55× nginx', measured: sy?.vsReference, limit: 0.55, kind: 'min' },
    {
      goal: 'proxy: p99 ≤ 2× nginx, each loaded to its own saturation (64 connections back to back)',
      measured: sy?.p99VsReference,
      limit: 2,
      kind: 'max',
    },
    {
      goal: 'proxy: p99 ≤ 2× nginx at the same offered load (proxy-rate, ≈ 8,000 req/s)',
      measured: row(rate, 'switchyard')?.p99VsReference,
      limit: 2,
      kind: 'max',
    },
    {
      goal: 'proxy (moonshot): CPU/req ≤ 1.5× nginx',
      measured: sy?.cpuVsReference,
      paired: pairedRatio(paired, 'switchyard', 'nginx', '/small'),
      limit: 1.5,
      kind: 'max',
    },
    {
      goal: 'hello: CPU/req ≤ 1.15× raw uWS',
      measured: hy?.cpuVsReference,
      paired: pairedRatio(paired, 'switchyard', 'uws', '/hello'),
      limit: 1.15,
      kind: 'max',
    },
    { goal: 'hello: req/s ≥ 0.9× raw uWS', measured: hy?.vsReference, limit: 0.9, kind: 'min' },
    {
      goal: 'proxy: access log on keeps ≥ 0.9× the req/s of log off',
      measured: logOn(proxy, sy),
      paired: inverse(pairedRatio(paired, 'switchyard-log', 'switchyard', '/small')),
      limit: 0.9,
      kind: 'min',
    },
    {
      goal: 'hello: access log on keeps ≥ 0.9× the req/s of log off',
      measured: logOn(hello, hy),
      paired: inverse(pairedRatio(paired, 'switchyard-log', 'switchyard', '/hello')),
      limit: 0.9,
      kind: 'min',
    },
    {
      // like for like: `switchyard-lean` sends the upstream what the floor sends (contenders/switchyard.ts)
      goal: 'context — proxy sending only Host, as the floor does: CPU/req ÷ the dispatch floor',
      measured: cpu(proxy, 'switchyard-lean', 'uws-undici'),
      paired: pairedRatio(paired, 'switchyard-lean', 'uws-undici', '/small'),
      kind: 'info',
    },
    {
      goal: 'context — proxy: CPU/req ÷ the dispatch floor sending and copying a proxy’s fields',
      measured: cpu(proxy, 'switchyard', 'uws-undici-fields'),
      paired: pairedRatio(paired, 'switchyard', 'uws-undici-fields', '/small'),
      kind: 'info',
    },
    {
      goal: 'context — proxy: CPU/req of the dispatch floor with a proxy’s fields ÷ the dispatch floor',
      measured: cpu(proxy, 'uws-undici-fields', 'uws-undici'),
      paired: pairedRatio(paired, 'uws-undici-fields', 'uws-undici', '/small'),
      kind: 'info',
    },
    {
      goal: 'context — proxy at the same offered load: p99 of the dispatch floor ÷ nginx’s',
      measured: row(rate, 'uws-undici')?.p99VsReference,
      kind: 'info',
    },
    {
      goal: 'context — proxy at the same offered load: CPU/req ÷ the dispatch floor',
      measured: row(rate, 'switchyard')?.cpuVsFloor,
      kind: 'info',
    },
    {
      goal: 'context — hello: CPU/req ÷ raw uWS.js reading the whole request head (what our code adds)',
      measured: cpu(hello, 'switchyard', 'uws-read'),
      paired: pairedRatio(paired, 'switchyard', 'uws-read', '/hello'),
      kind: 'info',
    },
    {
      goal: 'context — hello: CPU/req of raw uWS.js reading the request head ÷ raw uWS.js',
      measured: cpu(hello, 'uws-read', 'uws'),
      paired: pairedRatio(paired, 'uws-read', 'uws', '/hello'),
      kind: 'info',
    },
  ];
  return goals.map((g) => ({
    ...g,
    holds:
      g.measured === undefined || g.limit === undefined
        ? undefined
        : g.kind === 'max'
          ? g.measured <= g.limit
          : g.measured >= g.limit,
  }));
}

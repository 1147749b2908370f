/**
 * Issue 18's performance goals, checked against one run's figures: every ratio is the median of
 * per-round ratios between two contenders measured in the same round.
 */
import type { ScenarioResult, ThroughputResult, ThroughputRow } from './scenarios.js';
import { cpuRatio, rpsRatio } from './throughput.js';

export interface GoalRow {
  goal: string;
  /** The measured ratio, or undefined when a contender of it was not measured. */
  measured?: number;
  /** absent for a row that only gives context (where the distance to a goal lies) */
  limit?: number;
  /** 'max': measured must be ≤ limit; 'min': ≥ limit; 'info': context, no limit. */
  kind: 'max' | 'min' | 'info';
  holds?: boolean;
}

export function checkGoals(scenarios: ScenarioResult[]): GoalRow[] {
  const find = (id: string) =>
    scenarios.find((s): s is ThroughputResult => s.kind === 'throughput' && s.id === id);
  const row = (s: ThroughputResult | undefined, id: string): ThroughputRow | undefined =>
    s?.rows.find((r) => r.server === id && r.status === 'ok');
  const proxy = find('proxy-small');
  const hello = find('hello');
  const sy = row(proxy, 'switchyard');
  const hy = row(hello, 'switchyard');
  const logOn = (s: ThroughputResult | undefined, base: ThroughputRow | undefined) => {
    const on = row(s, 'switchyard-log');
    return on && base ? rpsRatio(on, base) : undefined;
  };
  const goals: Omit<GoalRow, 'holds'>[] = [
    {
      goal: 'proxy: CPU/req ≤ 1.2× uWS + undici dispatch floor',
      measured: sy?.cpuVsFloor,
      limit: 1.2,
      kind: 'max',
    },
    { goal: 'proxy: req/s ≥ 0.55× nginx', measured: sy?.vsReference, limit: 0.55, kind: 'min' },
    { goal: 'proxy: p99 ≤ 2× nginx', measured: sy?.p99VsReference, limit: 2, kind: 'max' },
    {
      goal: 'proxy (moonshot): CPU/req ≤ 1.5× nginx',
      measured: sy?.cpuVsReference,
      limit: 1.5,
      kind: 'max',
    },
    { goal: 'hello: CPU/req ≤ 1.15× raw uWS', measured: hy?.cpuVsReference, limit: 1.15, kind: 'max' },
    { goal: 'hello: req/s ≥ 0.9× raw uWS', measured: hy?.vsReference, limit: 0.9, kind: 'min' },
    {
      goal: 'proxy: access log on keeps ≥ 0.9× the req/s of log off',
      measured: logOn(proxy, sy),
      limit: 0.9,
      kind: 'min',
    },
    {
      goal: 'hello: access log on keeps ≥ 0.9× the req/s of log off',
      measured: logOn(hello, hy),
      limit: 0.9,
      kind: 'min',
    },
    {
      goal: 'context — hello: CPU/req ÷ raw uWS.js reading the whole request head (what our code adds)',
      measured: hy ? cpuRatio(hy, row(hello, 'uws-read')) : undefined,
      kind: 'info',
    },
    {
      goal: 'context — hello: CPU/req of raw uWS.js reading the request head ÷ raw uWS.js',
      measured: (() => {
        const r = row(hello, 'uws-read');
        return r ? cpuRatio(r, row(hello, 'uws')) : undefined;
      })(),
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

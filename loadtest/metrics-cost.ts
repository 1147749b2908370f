/**
 * What counting a request costs on the hot path: our fixed-layout record (src/observe/metrics.ts,
 * bumped by the pipeline once per request) against prom-client's pre-bound label children doing
 * the same (a counter `inc` and a histogram `observe`), and `performance.now()` (which the duration
 * needs either way). CPU ns per call over 5 M calls, three rounds. `npm run bench:metrics`.
 */
import client from 'prom-client';
import { RouteStats } from '../src/observe/metrics.js';
import { parseCli } from './lib/cli.js';

parseCli('metrics-cost', 'usage: npm run bench:metrics (no options)\n', {});

const N = 5_000_000;
const durations = Array.from({ length: 1024 }, (_, i) => (i % 97) / 10_000);

function ns(fn: (i: number) => void): number {
  const t0 = process.cpuUsage();
  for (let i = 0; i < N; i++) fn(i);
  const d = process.cpuUsage(t0);
  return Math.round(((d.user + d.system) * 1000) / N);
}

const ours = new RouteStats('/a', 'respond');
const reg = new client.Registry();
const counter = new client.Counter({
  name: 'r_total',
  help: 'r',
  labelNames: ['route', 'track', 'code'],
  registers: [reg],
});
const histogram = new client.Histogram({
  name: 'r_seconds',
  help: 'r',
  labelNames: ['route', 'track'],
  registers: [reg],
});
const c = counter.labels('/a', 'respond', '2xx');
const h = histogram.labels('/a', 'respond');

console.log('CPU ns per request          ours   prom-client children   performance.now()');
for (let round = 0; round < 3; round++) {
  const a = ns((i) => ours.record(200, durations[i & 1023]!));
  const b = ns((i) => {
    c.inc();
    h.observe(durations[i & 1023]!);
  });
  const t = ns(() => performance.now());
  console.log(
    `round ${round + 1}                     ${String(a).padStart(4)}   ${String(b).padStart(20)}   ${String(t).padStart(17)}`,
  );
}

/**
 * The Prometheus exposition (text format 0.0.4) through prom-client: its default process metrics
 * (CPU, memory, descriptors, event-loop delay, GC) plus ours, read at scrape time from the records
 * in metrics.ts and from gauges the server hands in. Nothing here runs per request.
 *
 * Names follow the Prometheus conventions: `switchyard_` prefix, `_total` counters, `_seconds`.
 */
import client from 'prom-client';
import type { PoolStats } from '../pool/stats.js';
import { BUCKETS, type Histo, type Stats } from './metrics.js';

/** What a scrape reads besides the records. */
export interface MetricsSources {
  stats: Stats;
  /** requests in flight now */
  inflight(): number;
  /** open client connections now, or undefined where it cannot be known */
  connections(): number | undefined;
  /** the job pool's gauges and counters */
  pool(): PoolStats | undefined;
  /** refresh `up` on every PeerStats from the current route table's health view */
  refreshPeers(): void;
}

type Labels = Record<string, string | number>;
interface Value {
  labels: Labels;
  value: number;
  metricName?: string;
}

/** A metric whose values are computed at scrape time (prom-client's registerMetric contract). */
function computed(
  name: string,
  help: string,
  type: 'counter' | 'gauge' | 'histogram',
  values: () => Value[],
) {
  return {
    name,
    help,
    type,
    aggregator: 'sum' as const,
    get: () => ({ name, help, type, values: values(), aggregator: 'sum' }),
    reset() {},
  };
}

/** Histogram samples (`_bucket` cumulative with `le`, `_sum`, `_count`) for one label set. */
function histogramValues(name: string, labels: Labels, h: Histo, out: Value[]): void {
  let acc = 0;
  for (let i = 0; i < BUCKETS.length; i++) {
    acc += h.counts[i]!;
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: BUCKETS[i]! }, value: acc });
  }
  out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
  out.push({ metricName: `${name}_sum`, labels, value: h.sum });
  out.push({ metricName: `${name}_count`, labels, value: h.count });
}

const CLASSES = ['none', '1xx', '2xx', '3xx', '4xx', '5xx'];

export class Prometheus {
  readonly registry = new client.Registry();

  constructor(src: MetricsSources) {
    const r = this.registry;
    client.collectDefaultMetrics({ register: r, eventLoopMonitoringPrecision: 20 });
    const stats = src.stats;
    const add = (m: ReturnType<typeof computed>) => r.registerMetric(m as unknown as client.Metric);

    add(
      computed(
        'switchyard_requests_total',
        'Requests finished, by route, track and status class',
        'counter',
        () => {
          const out: Value[] = [];
          for (const s of stats.routes()) {
            for (let c = 0; c < 6; c++) {
              const v = s.classes[c]!;
              if (v !== 0)
                out.push({ labels: { route: s.route, track: s.track, code: CLASSES[c]! }, value: v });
            }
          }
          return out;
        },
      ),
    );
    add(
      computed(
        'switchyard_request_duration_seconds',
        'Time from the request head to the last byte written, by route and track',
        'histogram',
        () => {
          const out: Value[] = [];
          for (const s of stats.routes()) {
            if (s.duration.count === 0) continue;
            histogramValues(
              'switchyard_request_duration_seconds',
              { route: s.route, track: s.track },
              s.duration,
              out,
            );
          }
          return out;
        },
      ),
    );
    add(
      computed('switchyard_requests_in_flight', 'Requests being handled now', 'gauge', () => [
        { labels: {}, value: src.inflight() },
      ]),
    );
    add(
      computed(
        'switchyard_open_connections',
        'Client connections open now (established TCP on our listeners)',
        'gauge',
        () => {
          const n = src.connections();
          return n === undefined ? [] : [{ labels: {}, value: n }];
        },
      ),
    );
    const peerCounter = (name: string, help: string, pick: (p: import('./metrics.js').PeerStats) => number) =>
      add(
        computed(name, help, 'counter', () => {
          const out: Value[] = [];
          for (const p of stats.peers())
            out.push({ labels: { upstream: p.upstream, server: p.server }, value: pick(p) });
          return out;
        }),
      );
    peerCounter(
      'switchyard_upstream_requests_total',
      'Attempts sent to an upstream server',
      (p) => p.requests,
    );
    peerCounter(
      'switchyard_upstream_errors_total',
      'Attempts that failed (connect, reset, timeout, malformed)',
      (p) => p.errors,
    );
    peerCounter(
      'switchyard_upstream_retries_total',
      'Attempts that retried an earlier one',
      (p) => p.retries,
    );
    add(
      computed(
        'switchyard_upstream_up',
        '1 when the server is available by health checks, else 0',
        'gauge',
        () => {
          src.refreshPeers();
          const out: Value[] = [];
          for (const p of stats.peers())
            out.push({ labels: { upstream: p.upstream, server: p.server }, value: p.up ? 1 : 0 });
          return out;
        },
      ),
    );
    add(
      computed(
        'switchyard_upstream_response_seconds',
        'Time from sending an attempt to its response head',
        'histogram',
        () => {
          const out: Value[] = [];
          for (const p of stats.peers()) {
            histogramValues(
              'switchyard_upstream_response_seconds',
              { upstream: p.upstream, server: p.server },
              p.head,
              out,
            );
          }
          return out;
        },
      ),
    );
    const pool = (name: string, help: string, type: 'counter' | 'gauge', pick: (s: PoolStats) => number) =>
      add(
        computed(name, help, type, () => {
          const s = src.pool();
          return s === undefined ? [] : [{ labels: {}, value: pick(s) }];
        }),
      );
    pool('switchyard_pool_threads', 'Worker threads running', 'gauge', (s) => s.threads);
    pool('switchyard_pool_queued', 'Jobs waiting for a thread', 'gauge', (s) => s.queued);
    pool('switchyard_pool_running', 'Jobs running on a thread', 'gauge', (s) => s.running);
    pool(
      'switchyard_pool_utilization',
      "Share of the threads' time spent running jobs (0..1)",
      'gauge',
      (s) => s.utilization,
    );
    add(
      computed('switchyard_pool_jobs_total', 'Jobs by outcome', 'counter', () => {
        const s = src.pool();
        if (s === undefined) return [];
        const out: Value[] = [];
        for (const [job, j] of Object.entries(s.jobs)) {
          out.push({ labels: { job, outcome: 'done' }, value: j.count });
          out.push({ labels: { job, outcome: 'failed' }, value: j.failed });
          out.push({ labels: { job, outcome: 'cancelled' }, value: j.cancelled });
          out.push({ labels: { job, outcome: 'rejected' }, value: j.rejected });
        }
        return out;
      }),
    );
    const jobTime = (name: string, help: string, pick: (j: PoolStats['jobs'][string]) => number) =>
      add(
        computed(name, help, 'counter', () => {
          const s = src.pool();
          if (s === undefined) return [];
          return Object.entries(s.jobs).map(([job, j]) => ({ labels: { job }, value: pick(j) / 1000 }));
        }),
      );
    jobTime('switchyard_pool_job_wait_seconds_total', 'Queue wait of completed jobs', (j) => j.wait_ms);
    jobTime('switchyard_pool_job_run_seconds_total', 'Run time of completed jobs', (j) => j.run_ms);
  }

  /** The exposition text. */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

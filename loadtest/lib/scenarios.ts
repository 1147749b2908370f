/** What each scenario measures, and the shapes of their results (these go into the JSON file). */
import type { ServerId } from '../contenders/index.js';
import type { LoadResult } from './load.js';
import type { Answer } from './net.js';

export const MiB = 1024 * 1024;

export interface ThroughputDef {
  id: 'proxy-small' | 'proxy-rate' | 'proxy-64k' | 'proxy-upload' | 'hello';
  title: string;
  /** One line for the README/table: what the number means. */
  what: string;
  method: 'GET' | 'POST';
  path: string;
  bodyBytes?: number;
  /**
   * Offer about this many req/s to every contender (wrk paced: lib/load.ts) instead of
   * loading each to its saturation: latency at the same load. Needs wrk.
   */
  offeredRps?: number;
  contenders: ServerId[];
  reference: ServerId;
  /** The floor of our own stack (the same libraries without our code): CPU is also compared to it. */
  floor: ServerId;
  fastify: ServerId;
  /** Checks a single answer before load is applied; returns what is wrong, or null. */
  expect(a: Answer): string | null;
}

const body = (want: string) => (a: Answer) => {
  if (a.status !== 200) return `status ${a.status}`;
  const got = a.body.toString('latin1');
  return got === want ? null : `body ${JSON.stringify(got.slice(0, 60))} is not ${JSON.stringify(want)}`;
};
const length = (n: number) => (a: Answer) =>
  a.status !== 200
    ? `status ${a.status}`
    : a.body.length === n
      ? null
      : `body is ${a.body.length} bytes, not ${n}`;

const PROXIES: ServerId[] = ['switchyard', 'switchyard-node', 'nginx', 'haproxy', 'caddy', 'fastify-proxy'];
/**
 * proxy-small carries issue 18's goals: every contender, our floors, the access log on, and
 * Switchyard forwarding only what the dispatch floor forwards (the like-for-like comparison).
 */
const PROXIES_SMALL: ServerId[] = [
  'switchyard',
  'switchyard-log',
  'switchyard-lean',
  'switchyard-base',
  'switchyard-base-log',
  'uws-undici',
  'uws-undici-fields',
  'uws-socket',
  'nginx',
  'haproxy',
  'caddy',
  'switchyard-node',
  'fastify-proxy',
];

export const THROUGHPUT: ThroughputDef[] = [
  {
    id: 'proxy-small',
    title: 'Proxy, small response',
    what: 'GET /small through each proxy to the uWS origin (12-byte body): per-request proxy overhead.',
    method: 'GET',
    path: '/small',
    contenders: PROXIES_SMALL,
    reference: 'nginx',
    floor: 'uws-undici',
    fastify: 'fastify-proxy',
    expect: body('hello world\n'),
  },
  {
    id: 'proxy-rate',
    title: 'Proxy, small response at one offered rate',
    what:
      'GET /small at about 8,000 req/s for every contender (each connection waits a random 0–16 ms ' +
      'between requests), below the capacity of each: latency and CPU at the same load, where ' +
      'proxy-small loads each to its own saturation.',
    method: 'GET',
    path: '/small',
    offeredRps: 8000,
    contenders: ['switchyard', 'switchyard-log', 'uws-undici', 'nginx', 'haproxy'],
    reference: 'nginx',
    floor: 'uws-undici',
    fastify: 'nginx',
    expect: body('hello world\n'),
  },
  {
    id: 'proxy-64k',
    title: 'Proxy, 64 KiB response',
    what: 'GET /64k through each proxy (65,536-byte body): response streaming and copying.',
    method: 'GET',
    path: '/64k',
    contenders: PROXIES,
    reference: 'nginx',
    floor: 'nginx',
    fastify: 'fastify-proxy',
    expect: length(65536),
  },
  {
    id: 'proxy-upload',
    title: 'Proxy, 1 MiB request body',
    what: 'POST /upload with a 1 MiB body through each proxy; the origin answers the length: upload streaming.',
    method: 'POST',
    path: '/upload',
    bodyBytes: MiB,
    contenders: PROXIES,
    reference: 'nginx',
    floor: 'nginx',
    fastify: 'fastify-proxy',
    expect: body(String(MiB)),
  },
  {
    id: 'hello',
    title: 'Handler, hello world',
    what: 'GET /hello answered in-process with "Hello world!" (12 bytes): per-request cost of the server itself.',
    method: 'GET',
    path: '/hello',
    contenders: [
      'switchyard',
      'switchyard-log',
      'switchyard-base',
      'switchyard-base-log',
      'uws',
      'uws-read',
      'switchyard-node',
      'fastify',
      'node-http',
    ],
    reference: 'uws',
    floor: 'uws',
    fastify: 'fastify',
    expect: body('Hello world!'),
  },
];

/**
 * Pairs measured at the same time (lib/paired.ts) after the throughput scenarios, each with the
 * servers those scenarios started: CPU per request of `a` ÷ `b` when neither runs alone.
 */
export interface PairDef {
  scenario: 'proxy-small' | 'hello';
  path: string;
  a: ServerId;
  b: ServerId;
}

export const PAIRED: PairDef[] = [
  { scenario: 'proxy-small', path: '/small', a: 'switchyard', b: 'uws-undici' },
  { scenario: 'proxy-small', path: '/small', a: 'switchyard', b: 'uws-undici-fields' },
  { scenario: 'proxy-small', path: '/small', a: 'switchyard-lean', b: 'uws-undici' },
  { scenario: 'proxy-small', path: '/small', a: 'uws-undici-fields', b: 'uws-undici' },
  { scenario: 'proxy-small', path: '/small', a: 'switchyard', b: 'nginx' },
  { scenario: 'proxy-small', path: '/small', a: 'switchyard-log', b: 'switchyard' },
  { scenario: 'hello', path: '/hello', a: 'switchyard', b: 'uws' },
  { scenario: 'hello', path: '/hello', a: 'switchyard', b: 'uws-read' },
  { scenario: 'hello', path: '/hello', a: 'uws-read', b: 'uws' },
  { scenario: 'hello', path: '/hello', a: 'switchyard-log', b: 'switchyard' },
  // with --baseline only: this build against the other one
  { scenario: 'proxy-small', path: '/small', a: 'switchyard', b: 'switchyard-base' },
  { scenario: 'proxy-small', path: '/small', a: 'switchyard-log', b: 'switchyard-base-log' },
  { scenario: 'hello', path: '/hello', a: 'switchyard', b: 'switchyard-base' },
  { scenario: 'hello', path: '/hello', a: 'switchyard-log', b: 'switchyard-base-log' },
];

export const IDLE = {
  title: 'Idle keep-alive connections',
  what:
    'N connections each send one GET /small, read the answer and stay open; RSS (VmRSS, process ' +
    'and children: nginx master + worker) before and after, and the difference per connection.',
  contenders: ['switchyard', 'nginx', 'uws'] as ServerId[],
  reference: 'nginx' as ServerId,
  path: '/small',
};

export const MIXED = {
  title: 'Light requests beside heavy jobs',
  what:
    'Switchyard only: GET /hello latency with few connections, alone and while a second load ' +
    'generator keeps GET /fib/32 (a CPU-bound pool job) busy. The pool should keep hello fast.',
  lightPath: '/hello',
  heavyPath: '/fib/32',
  lightConnections: 4,
  heavyConnections: 8,
};

export type RowStatus = 'ok' | 'skipped' | 'failed';

export interface ThroughputRow {
  server: ServerId;
  label: string;
  status: RowStatus;
  reason?: string;
  /** One sample per round, in round order. */
  samples: LoadResult[];
  /** Medians over rounds. */
  rps?: number;
  p50?: number;
  p99?: number;
  /** Totals over rounds. */
  httpErrors?: number;
  socketErrors?: number;
  /** CPU µs per request of the server process tree, one per round, and their median */
  cpuSamples?: number[];
  cpuUs?: number;
  /** 1-minute load average of the machine at the end of each round's step, and their median. */
  loadSamples?: number[];
  load?: number;
  /** Median over rounds of (this rps / reference rps in the same round). */
  vsReference?: number;
  vsFastify?: number;
  /** Medians over rounds of this CPU µs/req ÷ the reference's / the floor's in the same round. */
  cpuVsReference?: number;
  cpuVsFloor?: number;
  /** Median over rounds of this p99 ÷ the reference's p99 in the same round. */
  p99VsReference?: number;
}

export interface ThroughputResult {
  kind: 'throughput';
  id: ThroughputDef['id'];
  title: string;
  what: string;
  request: string;
  reference: ServerId;
  floor: ServerId;
  fastify: ServerId;
  rows: ThroughputRow[];
}

export interface IdleRow {
  server: ServerId;
  label: string;
  status: RowStatus;
  reason?: string;
  opened?: number;
  failed?: number;
  /** Connections still open when the "after" RSS was read. */
  stillOpen?: number;
  rssBefore?: number;
  rssAfter?: number;
  /** (after − before) / still open, bytes. */
  perConnection?: number;
  vsReference?: number;
}

export interface IdleResult {
  kind: 'idle';
  id: 'idle';
  title: string;
  what: string;
  target: number;
  reference: ServerId;
  rows: IdleRow[];
}

export interface MixedResult {
  kind: 'mixed';
  id: 'mixed';
  title: string;
  what: string;
  status: RowStatus;
  reason?: string;
  lightConnections: number;
  heavyConnections: number;
  baseline?: LoadResult;
  underLoad?: LoadResult;
  heavy?: LoadResult;
}

export type ScenarioResult = ThroughputResult | IdleResult | MixedResult;

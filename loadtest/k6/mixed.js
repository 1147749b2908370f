// @ts-check
/**
 * Light and heavy requests together: /hello (answered on the event loop) at a steady rate while
 * /fib/30 (a CPU-bound job in the worker pool) keeps the pool busy. Each has its own scenario and
 * tag, so the thresholds say separately whether the light route stayed fast — the point of the
 * pool — and whether the heavy route coped. A 503 from the heavy route means the pool's queue was
 * full and the request was shed on purpose; it is counted in `heavy_shed`, not as a failure.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 loadtest/k6/mixed.js
 *
 *   LIGHT_RATE  /hello per second (200)     LIGHT_P95_MS  its p95 threshold (25)
 *   HEAVY_RATE  /fib/N per second (20)      HEAVY_P95_MS  its p95 threshold (2000)
 *   FIB_N       N (30)                      DURATION      each scenario (1m)
 */
import { check } from 'k6';
import http from 'k6/http';
import { Rate } from 'k6/metrics';
import { BASE_URL, DURATION, envNumber } from './lib.js';

const LIGHT_RATE = envNumber('LIGHT_RATE', 200);
const HEAVY_RATE = envNumber('HEAVY_RATE', 20);
const FIB_N = envNumber('FIB_N', 30);
const LIGHT_P95_MS = envNumber('LIGHT_P95_MS', 25);
const HEAVY_P95_MS = envNumber('HEAVY_P95_MS', 2000);

/** Share of heavy requests the pool turned away with 503 (queue full). */
const heavyShed = new Rate('heavy_shed');

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    light: {
      executor: 'constant-arrival-rate',
      exec: 'light',
      rate: LIGHT_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 10,
      maxVUs: 100,
      tags: { kind: 'light' },
    },
    heavy: {
      executor: 'constant-arrival-rate',
      exec: 'heavy',
      rate: HEAVY_RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: 10,
      maxVUs: 200,
      tags: { kind: 'heavy' },
    },
  },
  thresholds: {
    'http_req_duration{kind:light}': [`p(95)<${LIGHT_P95_MS}`, `p(99)<${LIGHT_P95_MS * 4}`],
    'http_req_failed{kind:light}': ['rate<0.001'],
    'checks{kind:light}': ['rate>0.999'],
    'http_req_duration{kind:heavy}': [`p(95)<${HEAVY_P95_MS}`],
    'http_req_failed{kind:heavy}': ['rate<0.01'],
    heavy_shed: ['rate<0.2'],
  },
};

const heavyOk = http.expectedStatuses(200, 503);

export function light() {
  const res = http.get(`${BASE_URL}/hello`, { tags: { name: '/hello' } });
  check(res, {
    'light: status is 200': (r) => r.status === 200,
    'light: body is "Hello world!"': (r) => r.body === 'Hello world!',
  });
}

export function heavy() {
  const res = http.get(`${BASE_URL}/fib/${FIB_N}`, { tags: { name: '/fib/:n' }, responseCallback: heavyOk });
  heavyShed.add(res.status === 503);
  check(res, { 'heavy: status is 200 or 503': (r) => r.status === 200 || r.status === 503 });
}

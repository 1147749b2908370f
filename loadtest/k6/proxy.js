// @ts-check
/**
 * Proxy load at a fixed arrival rate: requests start on schedule whether or not earlier ones have
 * finished, so a slow server shows up as latency and dropped iterations rather than being hidden
 * by the load generator waiting for it (coordinated omission).
 *
 *   k6 run loadtest/k6/proxy.js                      # against `npm start` (the default config)
 *   k6 run -e ORIGIN=bench loadtest/k6/proxy.js      # against the bench's origin, below
 *
 * By default it loads `/api/hello`, the default config's proxy route (to the server's second
 * listener), with no large-response scenario. `ORIGIN=bench` uses the bench's origin instead
 * (`node dist/loadtest/origin.js --port 8081` behind a `{ path: "/*", proxy: origin }` route): it
 * answers GET /small (12 bytes) and /64k, so SMALL_PATH=/small and LARGE_PATH=/64k.
 *
 *   SMALL_PATH  small response (see above)           RATE       its requests per second (500)
 *   LARGE_PATH  large response ("" off)              LARGE_RATE its requests per second (100)
 *   DURATION    each scenario (1m)                   P95_MS     latency threshold (50)
 */
import { check } from 'k6';
import http from 'k6/http';
import { BASE_URL, DURATION, envNumber } from './lib.js';

const BENCH_ORIGIN = __ENV.ORIGIN === 'bench';
const SMALL_PATH = __ENV.SMALL_PATH || (BENCH_ORIGIN ? '/small' : '/api/hello');
const LARGE_PATH = __ENV.LARGE_PATH ?? (BENCH_ORIGIN ? '/64k' : '');
const RATE = envNumber('RATE', 500);
const LARGE_RATE = envNumber('LARGE_RATE', 100);
const P95_MS = envNumber('P95_MS', 50);

/** @type {NonNullable<import('k6/options').Options['scenarios']>} */
const scenarios = {
  small: {
    executor: 'constant-arrival-rate',
    exec: 'small',
    rate: RATE,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: Math.max(10, Math.ceil(RATE / 20)),
    maxVUs: Math.max(50, Math.ceil(RATE / 5)),
    tags: { kind: 'small' },
  },
};
/** @type {Record<string, string[]>} */
const thresholds = {
  http_req_failed: ['rate<0.01'],
  'http_req_duration{kind:small}': [`p(95)<${P95_MS}`, `p(99)<${P95_MS * 4}`],
  'checks{kind:small}': ['rate>0.99'],
  dropped_iterations: [`count<${Math.max(10, RATE)}`],
};
if (LARGE_PATH) {
  scenarios.large = {
    executor: 'constant-arrival-rate',
    exec: 'large',
    rate: LARGE_RATE,
    timeUnit: '1s',
    duration: DURATION,
    preAllocatedVUs: Math.max(10, Math.ceil(LARGE_RATE / 10)),
    maxVUs: Math.max(50, Math.ceil(LARGE_RATE / 2)),
    tags: { kind: 'large' },
  };
  thresholds['http_req_duration{kind:large}'] = [`p(95)<${P95_MS * 4}`];
  thresholds['checks{kind:large}'] = ['rate>0.99'];
}

/** @type {import('k6/options').Options} */
export const options = { scenarios, thresholds, discardResponseBodies: false };

export function small() {
  const res = http.get(`${BASE_URL}${SMALL_PATH}`, { tags: { name: SMALL_PATH } });
  check(res, { 'small: status is 200': (r) => r.status === 200 });
}

export function large() {
  const res = http.get(`${BASE_URL}${LARGE_PATH}`, { tags: { name: LARGE_PATH }, responseType: 'none' });
  check(res, { 'large: status is 200': (r) => r.status === 200 });
}

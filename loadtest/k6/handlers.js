// @ts-check
/**
 * Handler load at a fixed arrival rate: the `hello` handler (routes/hello.ts) answered in-process.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 -e RATE=5000 loadtest/k6/handlers.js
 *
 *   HELLO_PATH  route of the hello handler (default /hello)   RATE    requests per second (1000)
 *   DURATION    scenario length (1m)                          P95_MS  latency threshold (20)
 */
import { check } from 'k6';
import http from 'k6/http';
import { BASE_URL, DURATION, envNumber } from './lib.js';

const HELLO_PATH = __ENV.HELLO_PATH || '/hello';
const RATE = envNumber('RATE', 1000);
const P95_MS = envNumber('P95_MS', 20);

/** @type {import('k6/options').Options} */
export const options = {
  scenarios: {
    hello: {
      executor: 'constant-arrival-rate',
      exec: 'hello',
      rate: RATE,
      timeUnit: '1s',
      duration: DURATION,
      preAllocatedVUs: Math.max(10, Math.ceil(RATE / 50)),
      maxVUs: Math.max(50, Math.ceil(RATE / 10)),
      tags: { kind: 'hello' },
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    'http_req_duration{kind:hello}': [`p(95)<${P95_MS}`, `p(99)<${P95_MS * 5}`],
    checks: ['rate>0.999'],
    dropped_iterations: [`count<${Math.max(10, RATE / 10)}`],
  },
};

export function hello() {
  const res = http.get(`${BASE_URL}${HELLO_PATH}`, { tags: { name: HELLO_PATH } });
  check(res, {
    'hello: status is 200': (r) => r.status === 200,
    'hello: body is "Hello world!"': (r) => r.body === 'Hello world!',
  });
}

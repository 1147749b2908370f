// @ts-check
/**
 * Smoke test: a few virtual users for a short while, checking status and body. Run it after a
 * deploy or a config change; it fails (exit code 99) when a threshold is crossed.
 *
 *   k6 run -e BASE_URL=http://127.0.0.1:8080 loadtest/k6/smoke.js
 *
 * Optional: -e PROXY_PATH=/api/health also checks one proxied path for a 2xx answer;
 * -e NOT_FOUND_PATH=/nope checks that a path no route matches gets a 404 (leave it out when a
 * catch-all proxy route exists); -e VUS=3 -e SMOKE_DURATION=30s.
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { BASE_URL, envNumber } from './lib.js';

const PROXY_PATH = __ENV.PROXY_PATH || '';
const NOT_FOUND_PATH = __ENV.NOT_FOUND_PATH || '';

/** @type {import('k6/options').Options} */
export const options = {
  vus: envNumber('VUS', 3),
  duration: __ENV.SMOKE_DURATION || '30s',
  thresholds: {
    http_req_failed: ['rate<0.01'],
    http_req_duration: ['p(95)<200'],
    checks: ['rate>0.99'],
  },
};

export default function () {
  const hello = http.get(`${BASE_URL}/hello`, { tags: { name: 'hello' } });
  check(hello, {
    'hello: status is 200': (r) => r.status === 200,
    'hello: body is "Hello world!"': (r) => r.body === 'Hello world!',
    'hello: content-type is text/plain': (r) => (r.headers['Content-Type'] || '').startsWith('text/plain'),
  });

  if (NOT_FOUND_PATH) {
    const missing = http.get(`${BASE_URL}${NOT_FOUND_PATH}`, {
      tags: { name: 'not-found' },
      responseCallback: http.expectedStatuses(404),
    });
    check(missing, { 'unrouted path: status is 404': (r) => r.status === 404 });
  }

  if (PROXY_PATH) {
    const proxied = http.get(`${BASE_URL}${PROXY_PATH}`, { tags: { name: 'proxy' } });
    check(proxied, { 'proxy: status is 2xx': (r) => r.status >= 200 && r.status < 300 });
  }
  sleep(1);
}

// @ts-check
/**
 * Shared settings of the k6 scripts. Everything can be overridden with `-e NAME=value`:
 *   BASE_URL  where Switchyard listens (default http://127.0.0.1:8080)
 *   DURATION  how long each arrival-rate scenario runs (default 1m)
 */

/** Base URL of the server under test, without a trailing slash. */
export const BASE_URL = (__ENV.BASE_URL || 'http://127.0.0.1:8080').replace(/\/+$/, '');

/** Duration of each constant-arrival-rate scenario. */
export const DURATION = __ENV.DURATION || '1m';

/**
 * A number from the environment, or `fallback`.
 * @param {string} name
 * @param {number} fallback
 * @returns {number}
 */
export function envNumber(name, fallback) {
  const raw = __ENV[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new Error(`${name}=${raw} is not a number`);
  return n;
}

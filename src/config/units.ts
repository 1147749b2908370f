/**
 * Sizes and durations as operators write them in nginx configs: `64KiB`, `1m`, `30s`, `250ms`.
 *
 * Sizes: a plain integer is bytes; `k`/`K`/`KB`/`KiB` = 1024, `m`/`M`/`MB`/`MiB` = 1024², `g`… = 1024³
 * (nginx counts `k` and `m` in powers of two, so we do too).
 * Durations: a number needs a unit (`ms`, `s`, `m`, `h`, `d`), because nginx reads a bare `30` as
 * seconds and JavaScript as milliseconds; we refuse to guess. `0` alone is allowed.
 */

const SIZE = /^(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?$/i;
const SIZE_FACTOR: Record<string, number> = {
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
};

/** Bytes, or an error message. */
export function parseSize(input: string | number): number | string {
  if (typeof input === 'number') {
    if (Number.isSafeInteger(input) && input >= 0) return input;
    return input < 0 || !Number.isInteger(input)
      ? `invalid size ${input}: expected a whole number of bytes >= 0`
      : `invalid size ${input}: too large (at most 2^53 − 1 bytes)`;
  }
  const m = SIZE.exec(input.trim());
  if (!m) return `invalid size "${input}": expected e.g. 512, 64KiB, 1MiB, 2g`;
  const bytes = Math.floor(Number(m[1]) * SIZE_FACTOR[(m[2] ?? 'b').toLowerCase()]!);
  return Number.isSafeInteger(bytes) ? bytes : `size "${input}" is too large`;
}

const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)$/;
const DURATION_FACTOR: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Milliseconds, or an error message. */
export function parseDuration(input: string | number): number | string {
  if (input === 0 || input === '0') return 0;
  if (typeof input === 'number') return `duration ${input} needs a unit: write ${input}ms or ${input}s`;
  const m = DURATION.exec(input.trim());
  if (!m) return `invalid duration "${input}": expected e.g. 250ms, 30s, 5m, 1h`;
  const ms = Number(m[1]) * DURATION_FACTOR[m[2]!]!;
  // setTimeout clamps anything above 2^31-1 ms to 1 ms: refuse rather than fire at once.
  if (ms > 2_147_483_647) return `duration "${input}" is too long (max 24d)`;
  return Math.round(ms);
}

const RATE = /^(\d+(?:\.\d+)?)\s*\/\s*(s|m|h)$/;
const RATE_PER: Record<string, number> = { s: 1, m: 60, h: 3600 };

/** A rate such as `100/s`, `600/m`, `1000/h`, as requests per second; or an error message. */
export function parseRate(input: string | number): number | string {
  if (typeof input === 'number') return `rate ${input} needs a unit: write ${input}/s or ${input}/m`;
  const m = RATE.exec(input.trim());
  if (!m) return `invalid rate "${input}": expected e.g. 100/s, 600/m, 1000/h`;
  const perSec = Number(m[1]) / RATE_PER[m[2]!]!;
  if (!(perSec > 0)) return `rate "${input}" must be above zero`;
  if (perSec > 1e7) return `rate "${input}" is too high (max 10000000/s)`;
  return perSec;
}

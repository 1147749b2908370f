/**
 * Which shared structures a config needs, as region layouts. Two regions, two lifetimes:
 *
 * - the **process region** (`processLayout`): what `shared:` declares for handlers (`ctx.shared`).
 *   Created once; a reload keeps it, so counters and tables survive a reload.
 * - the **table region** (`tableLayout`): what one route table needs to be shared by every
 *   acceptor thread — each route's in-flight count (`queue`), each rate-limited route's buckets,
 *   each upstream server's passive health. A reload creates a new one with the new table.
 *
 * Names are stable functions of the config (`route:3:queue:0`), so every thread finds the same word.
 */
import { ConfigError } from '../config/load.js';
import type { Config } from '../config/schema.js';
import { emptyLayout, place, type RegionLayout } from './layout.js';
import { SharedRegion } from './region.js';

export function processLayout(config: Config): RegionLayout {
  const s = config.shared;
  return {
    ...emptyLayout(),
    counters: [...s.counters],
    buckets: Object.entries(s.buckets).map(([name, b]) => ({ name, rate: b.limit, burst: b.burst })),
    tables: Object.entries(s.tables).map(([name, t]) => ({
      name,
      capacity: t.size,
      keyBytes: t.key,
      valueBytes: t.value,
    })),
  };
}

/** Longest rate-limit key kept as is; longer ones are stored as a hash (rate-limit.ts). */
export const RATE_KEY_BYTES = 64;

export const names = {
  queue: (route: number, thread: number) => `route:${route}:queue:${thread}`,
  rate: (route: number) => `route:${route}:rate`,
  fails: (upstream: string, server: number) => `peer:${upstream}:${server}:fails`,
  firstFail: (upstream: string, server: number) => `peer:${upstream}:${server}:first`,
  downUntil: (upstream: string, server: number) => `peer:${upstream}:${server}:down`,
};

/** `threads`: acceptor threads (each has its own in-flight gauge per capped route, see cap.ts). */
/** The in-flight gauges of acceptor `thread` (zeroed when that thread has crashed). */
export function threadGauges(layout: RegionLayout, thread: number): string[] {
  return layout.gauges.filter((g) => g.startsWith('route:') && g.endsWith(`:queue:${thread}`));
}

export function tableLayout(config: Config, threads = 1): RegionLayout {
  const l = emptyLayout();
  config.routes.forEach((r, i) => {
    if (r.queue !== undefined) for (let t = 0; t < threads; t++) l.gauges.push(names.queue(i, t));
    if (r.rate !== undefined)
      l.tables.push({ name: names.rate(i), capacity: r.rate.keys, keyBytes: RATE_KEY_BYTES, valueBytes: 8 });
  });
  for (const [name, up] of Object.entries(config.upstreams)) {
    up.servers.forEach((_, i) => {
      l.gauges.push(names.fails(name, i));
      l.stamps.push(names.firstFail(name, i), names.downUntil(name, i));
    });
  }
  return l;
}

/** The process region; one too large to allocate is a configuration problem naming its size. */
export function processRegion(config: Config, file: string): SharedRegion {
  const layout = processLayout(config);
  try {
    return SharedRegion.create(layout);
  } catch (err) {
    if (!(err instanceof RangeError) || !/allocation failed/i.test(err.message)) throw err;
    const mib = (place(layout).bytes / 2 ** 20).toFixed(1);
    throw new ConfigError(file, [
      `shared: the tables need ${mib} MiB of shared memory, which could not be allocated (${err.message}): lower a table's size, key or value`,
    ]);
  }
}

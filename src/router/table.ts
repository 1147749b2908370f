/**
 * The route table: one config generation's routes, compiled. It is a value: the pipeline reads
 * the table it was given (`pipeline.use(table)`), a request keeps the route it matched, and a
 * reload builds a new table beside the old one, swaps it in, and retires the old one, which closes
 * what it owns (upstream pools, health checkers) once its last request has finished.
 */
import { dirname } from 'node:path';
import { withCompression } from '../compress/index.js';
import type { LoadedConfig } from '../config/load.js';
import type { RouteConfig } from '../config/schema.js';
import type { ClientOf } from '../observe/log.js';
import type { RouteStats } from '../observe/metrics.js';
import { compileProbes, type ProbeKind } from '../observe/probes.js';
import { Upstreams } from '../proxy/index.js';
import { Trust } from '../proxy/trust.js';
import { Cap } from '../region/cap.js';
import { names, tableLayout } from '../region/plan.js';
import { SharedRegion } from '../region/region.js';
import type { ProcessServices, TableServices } from '../services.js';
import { tracks } from '../tracks/index.js';
import type { RunFn, Track, WsRunFn } from '../tracks/track.js';
import { rateLimited } from './rate-limit.js';
import { Router } from './router.js';

/** A route as the pipeline runs it: everything precomputed from its config. */
export interface CompiledRoute {
  /** the route's path pattern, for logs */
  readonly name: string;
  /** the track's name, for logs */
  readonly track: string;
  readonly bodyLimit: number;
  /** ms; 0 = no timeout */
  readonly timeout: number;
  /** max requests in flight on this route, across every acceptor thread; 0 = unlimited */
  readonly maxActive: number;
  /** the process-wide in-flight count (shared memory) when `maxActive` is set */
  readonly queue: Cap | null;
  /** requests in flight on this route in this thread (for retiring the table) */
  active: number;
  readonly run: RunFn;
  /** set when the route takes WebSocket upgrades */
  readonly websocket: WsRunFn | undefined;
  /** this route's counters (bound here, bumped per request by the pipeline) */
  readonly stats: RouteStats;
  readonly table: RouteTable;
}

const byName = new Map<string, Track>(tracks.map((t) => [t.name, t as unknown as Track]));

export class RouteTable {
  readonly router: Router<CompiledRoute>;
  readonly services: TableServices;
  /** `probes:` by path; null when none is configured */
  readonly probes: ReadonlyMap<string, ProbeKind> | null;
  /** the client's address for the access log (X-Forwarded-For from `trusted_proxies`) */
  readonly clientOf: ClientOf;
  /** counters of requests that matched no route (or a probe: see `probeStats`) */
  readonly unmatched: RouteStats;
  readonly probeStats: RouteStats;
  private readonly routes: CompiledRoute[] = [];
  private retired: (() => void) | undefined = undefined;
  private closing: Promise<void> | undefined = undefined;

  private constructor(
    services: TableServices,
    specs: (table: RouteTable) => CompiledRoute[],
    config: RouteConfig[],
    probes: ReadonlyMap<string, ProbeKind> | null,
  ) {
    this.services = services;
    this.probes = probes;
    const trust = services.upstreams.trust;
    this.clientOf = (ex) => trust.clientAddress(ex);
    this.unmatched = services.stats.route('(unmatched)', 'none');
    this.probeStats = services.stats.route('(probes)', 'probe');
    this.routes = specs(this);
    this.router = new Router(
      this.routes.map((data, i) => ({
        path: config[i]!.path,
        methods: config[i]!.methods,
        host: config[i]!.host,
        data,
      })),
    );
  }

  /**
   * Compile every route of `loaded` (handler modules are imported, upstream pools created).
   * Throws, naming the route's config path, on what the schema cannot check; nothing is left open.
   * `opts.region`: the table's shared words, when acceptor threads share them (the supervisor
   * made it from `tableLayout`); otherwise a region of this thread's own. `opts.share`: this
   * thread's share of each upstream server's `connections` (index, of count threads).
   */
  static async compile(
    loaded: LoadedConfig,
    process: ProcessServices,
    opts: { region?: SharedRegion; share?: { index: number; of: number } } = {},
  ): Promise<RouteTable> {
    const { config, routesDir } = loaded;
    const region = opts.region ?? SharedRegion.create(tableLayout(config));
    const share = opts.share ?? { index: 0, of: 1 };
    const cap = (i: number) =>
      new Cap(
        Array.from({ length: share.of }, (_, t) => region.gauge(names.queue(i, t))),
        share.index,
      );
    const upstreams = new Upstreams(config, {
      logs: process.logs,
      region,
      share: opts.share,
      stats: process.stats,
    });
    const services: TableServices = { ...process, upstreams, region };
    const configDir = dirname(loaded.file);
    const trust = new Trust(config.trusted_proxies);
    const sockets: (WsRunFn | undefined)[] = [];
    try {
      const runs = await Promise.all(
        config.routes.map(async (r, i) => {
          const compiled = await byName
            .get(r.track)!
            .compile(r as never, { where: `routes[${i}]`, routesDir, configDir, services });
          // compression wraps the track's run (its replies); the rate limit runs before either
          const run = r.compress === undefined ? compiled : withCompression(compiled, r.compress);
          const ws = compiled.websocket;
          if (r.rate === undefined) {
            sockets[i] = ws;
            return run;
          }
          const buckets = region.table(names.rate(i));
          if (ws !== undefined) {
            // a refusal throws: as a rejected promise, the engine answers it before the handshake
            const limited = rateLimited(ws, r.rate, buckets, trust);
            sockets[i] = async (ex, params) => limited(ex, params);
          }
          return rateLimited(run, r.rate, buckets, trust);
        }),
      );
      return new RouteTable(
        services,
        (table) =>
          config.routes.map((r, i) => ({
            name: r.path,
            track: r.track,
            bodyLimit: r.body ?? config.limits.body,
            timeout: r.timeout ?? 0,
            maxActive: r.queue ?? 0,
            queue: r.queue === undefined ? null : cap(i),
            active: 0,
            run: runs[i]!,
            websocket: sockets[i],
            stats: process.stats.route(r.path, r.track),
            table,
          })),
        config.routes,
        compileProbes(config.probes),
      );
    } catch (err) {
      await services.upstreams.close();
      throw err;
    }
  }

  /** True when no request that matched this table is still in flight. */
  get idle(): boolean {
    for (const r of this.routes) if (r.active !== 0) return false;
    return true;
  }

  /**
   * This table is no longer used for new requests: close what it owns once the requests that
   * matched it have finished (the pipeline calls `finished()` as each one does).
   */
  retire(): Promise<void> {
    this.closing ??= new Promise<void>((resolve) => {
      this.retired = resolve;
      this.finished();
    }).then(() => this.services.upstreams.close());
    return this.closing;
  }

  /** The pipeline: a request on a retired table has finished. */
  finished(): void {
    const done = this.retired;
    if (done !== undefined && this.idle) {
      this.retired = undefined;
      done();
    }
  }

  /** Close now, whatever is in flight (process exit). */
  close(): Promise<void> {
    return (this.closing ??= this.services.upstreams.close());
  }
}

/**
 * A track is what a matched request is handed to (handler, proxy, respond, redirect …). Each is
 * one folder under src/tracks/ exporting one `Track`, listed once in ./index.ts. A track brings:
 *
 * - `shape`: the route keys it adds to the common ones (path, methods, host, timeout, body,
 *   queue), its own key among them. A route names exactly one track key; its keys are validated
 *   against the common shape plus that track's shape, so a key of another track is an error.
 * - `check` (optional): cross-references the schema cannot see (an upstream's name, a module on
 *   disk), reported with the route's config path like every other problem.
 * - `compile`: called once per route when a route table is built; returns the function that runs
 *   per request. Everything that can be computed from the config is computed here.
 *
 * Wrappers that apply to every track (timeout, route queue, rate limit, compression) are applied
 * around `run` from the common keys (the pipeline, src/router/table.ts, src/compress); a track
 * never re-implements them.
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import type { z } from 'zod';
import type { CompressConfig } from '../compress/schema.js';
import type { Exchange, Later, Reply } from '../exchange.js';
import type { WsAccept } from '../http/websocket.js';
import type { Params } from '../router/router.js';
import type { TableServices } from '../services.js';

/** What a track's `run` is called with per request, and returns. */
export type RunFn = ((ex: Exchange, params: Params) => Reply | Promise<Reply> | Later) & {
  /** A route that takes WebSocket upgrades: runs before the handshake (src/http/websocket.ts). */
  websocket?: WsRunFn;
};
export type WsRunFn = (ex: Exchange, params: Params) => Promise<WsAccept | Reply>;

/**
 * Where a missing module was looked for; when the folder itself is missing, that is said, since a
 * wrong `routes_dir` (relative to the config file, not the working directory) is the usual cause.
 */
export function lookedFor(file: string): string {
  const dir = dirname(file);
  if (!existsSync(dir)) return `looked for ${file}, but there is no folder ${dir}`;
  // routes_dir at the TypeScript sources (./routes) instead of what they compile to (dist/routes)
  const ts = file.replace(/\.js$/, '.ts');
  if (existsSync(ts)) return `looked for ${file}; ${ts} is TypeScript: routes_dir names the compiled .js`;
  return `looked for ${file}`;
}

/** What `check` may look at besides the route itself. */
export interface CheckRefs {
  /** names under `upstreams:` */
  upstreams: ReadonlySet<string>;
  /** absolute directory of handler and job modules */
  routesDir: string;
  /** absolute directory of the config file (relative paths in it are resolved against it) */
  configDir: string;
}

/** What `compile` gets besides the route. */
export interface CompileEnv {
  /** the route's config path, `routes[2]`, for errors found while compiling */
  where: string;
  routesDir: string;
  /** absolute directory of the config file (relative paths in it are resolved against it) */
  configDir: string;
  services: TableServices;
}

export interface Track<Name extends string = string, Shape extends z.ZodRawShape = z.ZodRawShape> {
  /** the track's name, which is also its route key (`proxy: app`) */
  readonly name: Name;
  readonly shape: Shape;
  check?(
    route: z.output<z.ZodObject<Shape>> & CommonRoute,
    refs: CheckRefs,
  ): { key: string; message: string }[];
  compile(route: z.output<z.ZodObject<Shape>> & CommonRoute, env: CompileEnv): RunFn | Promise<RunFn>;
}

/** The keys every route has, whatever its track (validated in src/config/schema.ts). */
export interface CommonRoute {
  path: string;
  methods?: string[] | undefined;
  host?: string | undefined;
  timeout?: number | undefined;
  body?: number | undefined;
  queue?: number | undefined;
  rate?: { limit: number; burst: number; key: string; keys: number } | undefined;
  compress?: CompressConfig | undefined;
}

/** Declare a track; keeps its name literal and its shape's types for the route union. */
export function defineTrack<const Name extends string, Shape extends z.ZodRawShape>(
  track: Track<Name, Shape>,
): Track<Name, Shape> {
  return track;
}

/**
 * What `switchyard check` adds to config validation, and `start` runs before it builds anything:
 * every handler and job module is imported (as start would), so a module that cannot load is a
 * problem naming its config path, file and line — not a start-up crash. Also the warnings that do
 * not stop a start (a config with no routes answers 404 to everything).
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, type LoadedConfig, loadConfig } from './config/load.js';
import { openForAppend } from './observe/log.js';
import { loadJob } from './pool/registry.js';
import { compilePattern } from './router/router.js';
import { loadHandler } from './tracks/handler/load.js';

const JOB_FILE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*\.js$/;

/** Import every handler the routes name and every job module; one problem per failure. */
export async function checkModules(loaded: LoadedConfig): Promise<string[]> {
  const problems: string[] = [];
  const { config, routesDir } = loaded;
  await Promise.all(
    config.routes.map(async (r, i) => {
      if (r.track !== 'handler') return;
      try {
        await loadHandler(routesDir, r.handler);
      } catch (err) {
        problems.push(`routes[${i}].handler: ${(err as Error).message}`);
      }
    }),
  );
  const jobsDir = join(routesDir, 'jobs');
  let files: string[] = [];
  try {
    files = readdirSync(jobsDir).filter((f) => JOB_FILE.test(f));
  } catch {
    // no jobs folder: no jobs (a tcp listener naming one is already a config problem)
  }
  for (const f of files.sort()) {
    try {
      await loadJob(join(jobsDir, f));
    } catch (err) {
      problems.push(`routes_dir: job module ${(err as Error).message}`);
    }
  }
  return problems;
}

/**
 * Each log file opened for appending, its directory made, as `start` will (nginx -t opens them
 * too): a path that is a directory, under a file, or not writable is a problem naming its key,
 * found before the pid file is claimed rather than as a stack trace once the server runs.
 */
export function checkLogFiles(loaded: LoadedConfig): string[] {
  const problems: string[] = [];
  for (const key of ['access', 'error'] as const) {
    const target = loaded.config.log[key];
    if (target === 'stdout' || target === 'stderr' || target === 'off') continue;
    try {
      openForAppend(target);
    } catch (err) {
      problems.push(`log.${key}: cannot open ${target} for appending: ${(err as Error).message}`);
    }
  }
  return problems;
}

type RouteKey = { path: string; methods?: string[] | undefined; host?: string | undefined };

/** Does route `a`, earlier in the file, take every request route `b` would (first match wins)? */
function covers(a: RouteKey, b: RouteKey): boolean {
  if (a.host !== undefined && a.host !== b.host) return false;
  if (a.methods !== undefined) {
    if (b.methods === undefined) return false;
    const m = new Set(a.methods);
    if (m.has('GET')) m.add('HEAD');
    if (!b.methods.every((x) => m.has(x))) return false;
  }
  if (a.path === b.path) return true;
  const literal = !/[:*]/.test(b.path);
  if (literal) return compilePattern(a.path)(b.path) !== null;
  // a wildcard route takes every path that starts with its prefix: b's fixed start must begin with it
  if (!a.path.endsWith('*') || /:/.test(a.path)) return false;
  const prefix = a.path.slice(0, -1);
  const fixed = b.path.slice(0, b.path.search(/[:*]/));
  return fixed.startsWith(prefix);
}

/** Things worth saying about a valid config that still starts. */
export function configWarnings(loaded: LoadedConfig): string[] {
  const out: string[] = [];
  const { config } = loaded;
  if (config.routes.length === 0 && config.listen.some((l) => l.kind === 'http')) {
    out.push('routes: no routes: every HTTP request will be answered 404');
  }
  // The router takes the first route that matches, in file order (as nginx would refuse a
  // duplicate location): a route an earlier one always takes first is a mistake worth naming.
  config.routes.forEach((r, j) => {
    const i = config.routes.findIndex((a, k) => k < j && covers(a, r));
    if (i !== -1)
      out.push(
        `routes[${j}]: never matched: routes[${i}] (${config.routes[i]!.path}) takes its requests first`,
      );
    for (const kind of ['readiness', 'liveness'] as const)
      if (config.probes[kind] === r.path)
        out.push(`routes[${j}]: ${r.path} is the ${kind} probe's path, answered before routing`);
  });
  return out;
}

/** Load, validate and import the modules of a config file; throws ConfigError with every problem. */
export async function loadChecked(file: string): Promise<LoadedConfig> {
  const loaded = loadConfig(file);
  const problems = [...checkLogFiles(loaded), ...(await checkModules(loaded))];
  if (problems.length > 0) throw new ConfigError(loaded.file, problems);
  return loaded;
}

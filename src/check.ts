/**
 * What `switchyard check` adds to config validation, and `start` runs before it builds anything:
 * every handler and job module is imported (as start would), so a module that cannot load is a
 * problem naming its config path, file and line — not a start-up crash. Also the warnings that do
 * not stop a start (a config with no routes answers 404 to everything).
 */
import { closeSync, mkdirSync, openSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ConfigError, type LoadedConfig, loadConfig } from './config/load.js';
import { loadJob } from './pool/registry.js';
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
      mkdirSync(dirname(resolve(target)), { recursive: true });
      closeSync(openSync(target, 'a'));
    } catch (err) {
      problems.push(`log.${key}: cannot open ${target} for appending: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Things worth saying about a valid config that still starts. */
export function configWarnings(loaded: LoadedConfig): string[] {
  const out: string[] = [];
  const { config } = loaded;
  if (config.routes.length === 0 && config.listen.some((l) => l.kind === 'http')) {
    out.push('routes: no routes: every HTTP request will be answered 404');
  }
  return out;
}

/** Load, validate and import the modules of a config file; throws ConfigError with every problem. */
export async function loadChecked(file: string): Promise<LoadedConfig> {
  const loaded = loadConfig(file);
  const problems = [...checkLogFiles(loaded), ...(await checkModules(loaded))];
  if (problems.length > 0) throw new ConfigError(loaded.file, problems);
  return loaded;
}

/**
 * Loading a config file: read → parse (YAML, or JSON by extension) → expand `${VAR}` → validate
 * against the schema, which also checks cross-references (upstreams, handler and job modules, ports).
 * Every problem is collected, not just the first, each as `path: message` like
 * `routes[2].proxy: unknown upstream "api"`, so `switchyard check` prints them all at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { coerceEnv, type Expansion, expandEnv, newExpansion } from './env.js';
import { parseText } from './parse.js';
import { formatPath } from './path.js';
import { type Config, configSchema } from './schema.js';

export class ConfigError extends Error {
  readonly problems: string[];
  constructor(file: string, problems: string[]) {
    super(
      `${file}: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}\n  ${problems.join('\n  ')}`,
    );
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** The package root (where package.json, dist/ and conf/ live), from dist/src/config/load.js or src/config/load.ts. */
export const packageRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) break;
    dir = up;
  }
  return dir;
})();

/** The config `switchyard start` (and check, reload …) uses without `-c`. */
export const DEFAULT_CONFIG = join(packageRoot, 'conf', 'switchyard.yaml');

export interface LoadedConfig {
  config: Config;
  file: string;
  /** absolute directory of handler modules (compiled .js) */
  routesDir: string;
}

export { formatPath } from './path.js';

function zodProblems(error: z.ZodError, x: Expansion): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    const at = formatPath(issue.path);
    if (x.missing.has(at)) continue; // already reported: a missing variable
    const from = x.whole.get(at);
    if (from !== undefined && (issue.code === 'invalid_type' || issue.code === 'invalid_union')) {
      out.push(`${at}: ${issue.message} (from \${${from}})`);
      continue;
    }
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...issue.path, key])}: unknown key`);
    } else if (issue.code === 'invalid_key' && 'issues' in issue && issue.issues.length > 0) {
      // a record key that breaks its rule (an SNI name): say which rule, not "Invalid key in record"
      out.push(`${formatPath(issue.path)}: ${issue.issues[0]!.message}`);
    } else if (issue.code === 'invalid_union' && 'errors' in issue) {
      // Our unions are "string or number" wrappers: report the custom message underneath if any.
      const inner = issue.errors.flat().find((i) => i.code === 'custom');
      out.push(`${formatPath(issue.path)}: ${inner ? inner.message : issue.message}`);
    } else {
      out.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return out;
}

const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};

/** Parse, expand and validate config text. Throws ConfigError with every problem found. */
export function parseConfig(text: string, file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const problems: string[] = [];
  const parsed = parseText(text, file);
  if (!parsed.ok) throw new ConfigError(file, parsed.problems);
  let raw = parsed.raw;
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(file, ['(top level): expected a mapping']);
  const x = newExpansion();
  const expanded = expandEnv(raw, env, x);
  problems.push(...x.problems);
  // What cross-references may point at is read from the input before it is validated, so that a
  // route naming an upstream is checked even when that upstream has problems of its own.
  const root = obj(expanded);
  const routesValue = typeof root.routes_dir === 'string' ? root.routes_dir : '';
  const routesDir = routesValue ? resolve(dirname(file), routesValue) : join(packageRoot, 'dist', 'routes');
  const refs = {
    upstreams: new Set(Object.keys(obj(root.upstreams))),
    routesDir,
    configDir: dirname(resolve(file)),
  };
  const schema = configSchema(refs);
  let result = schema.safeParse(expanded);
  // A whole `${VAR}` arrives as a string: typed where the schema asked for a number or boolean.
  if (!result.success && coerceEnv(expanded, result.error.issues, x)) result = schema.safeParse(expanded);
  if (!result.success) problems.push(...zodProblems(result.error, x));
  if (problems.length > 0 || !result.success) throw new ConfigError(file, problems);
  return { config: result.data, file, routesDir };
}

/** Read and validate a config file. Throws ConfigError (also for an unreadable file). */
export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const abs = resolve(file);
  let text: string;
  try {
    text = readFileSync(abs, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    throw new ConfigError(abs, [`(file): cannot read: ${e.code ?? e.message}`]);
  }
  return parseConfig(text, abs, env);
}

/**
 * Loading a config file: read → parse (YAML, or JSON by extension) → expand `${VAR}` → validate
 * against the schema, which also checks cross-references (upstreams, handler and job modules, ports).
 * Every problem is collected, not just the first, each as `path: message` like
 * `routes[2].proxy: unknown upstream "api"`, so `switchyard check` prints them all at once.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
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

export interface LoadedConfig {
  config: Config;
  file: string;
  /** absolute directory of handler modules (compiled .js) */
  routesDir: string;
}

/** `routes[2].proxy` from ['routes', 2, 'proxy']. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out === '' ? String(p) : `.${String(p)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** Replace `${VAR}` and `${VAR:-default}` in every string of the tree; record missing variables. */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  problems: string[],
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') {
    if (!value.includes('${')) return value;
    return value.replace(
      /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g,
      (_m, key: string, dflt: string | undefined) => {
        const v = env[key];
        if (v !== undefined && v !== '') return v;
        if (dflt !== undefined) return dflt;
        problems.push(`${formatPath(path)}: environment variable ${key} is not set`);
        return '';
      },
    );
  }
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, problems, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = expandEnv(v, env, problems, [...path, k]);
    return out;
  }
  return value;
}

function zodProblems(error: z.ZodError): string[] {
  const out: string[] = [];
  for (const issue of error.issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) out.push(`${formatPath([...issue.path, key])}: unknown key`);
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
  let raw: unknown;
  if (extname(file).toLowerCase() === '.json') {
    try {
      raw = JSON.parse(text);
    } catch (err) {
      throw new ConfigError(file, [`(parse): ${(err as Error).message}`]);
    }
  } else {
    const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
    if (doc.errors.length > 0) {
      throw new ConfigError(
        file,
        doc.errors.map((e) => `(parse): ${e.message.split('\n')[0]}`),
      );
    }
    raw = doc.toJS();
  }
  if (raw === null || raw === undefined) raw = {};
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new ConfigError(file, ['(top level): expected a mapping']);
  const expanded = expandEnv(raw, env, problems);
  // What cross-references may point at is read from the input before it is validated, so that a
  // route naming an upstream is checked even when that upstream has problems of its own.
  const root = obj(expanded);
  const routesValue = typeof root.routes_dir === 'string' ? root.routes_dir : '';
  const routesDir = routesValue ? resolve(dirname(file), routesValue) : join(packageRoot, 'dist', 'routes');
  const refs = { upstreams: new Set(Object.keys(obj(root.upstreams))), routesDir };
  const result = configSchema(refs).safeParse(expanded);
  if (!result.success) problems.push(...zodProblems(result.error));
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

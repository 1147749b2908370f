/**
 * Loading a config file: read → parse (YAML, or JSON by extension) → expand `${VAR}` → validate
 * against the schema → cross-check references (upstreams, handler and job modules, ports).
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

/** The parts of a config that crossCheck reads; filled from valid or invalid input alike. */
interface Refs {
  routes: {
    i: number;
    path?: string;
    proxy?: string;
    handler?: string;
    keys: Set<string>;
    strip_prefix?: string;
  }[];
  upstreams: Map<string, { balance?: string; hash_key?: string; allBackup: boolean }>;
  listen: { i: number; host: string; port?: number; kind: string; job?: string; keys: Set<string> }[];
  names: Set<string>;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);
const obj = (v: unknown): Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);

/** Read the references out of the (expanded) input, valid or not, so every problem is reported at once. */
function references(input: unknown): Refs {
  const root = obj(input);
  const ups = obj(root.upstreams);
  return {
    routes: arr(root.routes).map((r, i) => {
      const o = obj(r);
      return {
        i,
        path: str(o.path),
        proxy: str(o.proxy),
        handler: str(o.handler),
        strip_prefix: str(o.strip_prefix),
        keys: new Set(Object.keys(o)),
      };
    }),
    upstreams: new Map(
      Object.entries(ups).map(([name, u]) => {
        const o = obj(u);
        const servers = arr(o.servers);
        return [
          name,
          {
            balance: str(o.balance),
            hash_key: str(o.hash_key),
            allBackup: servers.length > 0 && servers.every((x) => obj(x).backup === true),
          },
        ];
      }),
    ),
    listen: arr(root.listen).map((l, i) => {
      const o = obj(l);
      return {
        i,
        host: str(o.host) ?? '127.0.0.1',
        port: typeof o.port === 'number' ? o.port : undefined,
        kind: str(o.kind) ?? 'http',
        job: str(o.job),
        keys: new Set(Object.keys(o)),
      };
    }),
    names: new Set(Object.keys(ups)),
  };
}

/** Cross-references the schema cannot see: names of upstreams, modules on disk, ports. */
function crossCheck(refs: Refs, routesDir: string, problems: string[]): void {
  for (const r of refs.routes) {
    const at = `routes[${r.i}]`;
    if (r.proxy !== undefined && !refs.names.has(r.proxy))
      problems.push(`${at}.proxy: unknown upstream "${r.proxy}"`);
    if (r.handler !== undefined && !existsSync(join(routesDir, `${r.handler}.js`))) {
      problems.push(
        `${at}.handler: no handler module "${r.handler}" (looked for ${join(routesDir, `${r.handler}.js`)})`,
      );
    }
    if (!r.keys.has('proxy')) {
      for (const k of ['strip_prefix', 'add_prefix', 'request_headers', 'response_headers']) {
        if (r.keys.has(k)) problems.push(`${at}.${k}: only applies to proxy routes`);
      }
    }
    if (r.strip_prefix !== undefined && r.path !== undefined && !r.path.startsWith(r.strip_prefix)) {
      problems.push(`${at}.strip_prefix: "${r.strip_prefix}" is not a prefix of the route path "${r.path}"`);
    }
  }
  for (const [name, up] of refs.upstreams) {
    if (up.balance === 'hash' && up.hash_key === undefined) {
      problems.push(
        `upstreams.${name}.hash_key: required when balance is hash (ip, header:NAME or cookie:NAME)`,
      );
    }
    if (up.allBackup) problems.push(`upstreams.${name}.servers: every server is a backup`);
  }
  const seen = new Map<string, number>();
  for (const l of refs.listen) {
    const at = `listen[${l.i}]`;
    if (l.kind === 'tcp' && l.job === undefined) problems.push(`${at}.job: a tcp listener needs a job`);
    if (l.kind === 'http') {
      for (const k of ['job', 'idle', 'max_connections']) {
        if (l.keys.has(k)) problems.push(`${at}.${k}: only tcp listeners take ${k === 'job' ? 'a job' : k}`);
      }
    }
    if (l.job !== undefined && !existsSync(join(routesDir, 'jobs', `${l.job}.js`))) {
      problems.push(
        `${at}.job: unknown job "${l.job}" (looked for ${join(routesDir, 'jobs', `${l.job}.js`)})`,
      );
    }
    if (l.port !== undefined && l.port !== 0) {
      const key = `${l.host}:${l.port}`;
      const prev = seen.get(key);
      if (prev !== undefined) problems.push(`${at}: ${key} is already used by listen[${prev}]`);
      else seen.set(key, l.i);
    }
  }
}

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
  const result = configSchema.safeParse(expanded);
  if (!result.success) problems.push(...zodProblems(result.error));
  const routesValue = str(obj(expanded).routes_dir);
  const routesDir = routesValue ? resolve(dirname(file), routesValue) : join(packageRoot, 'dist', 'routes');
  crossCheck(references(expanded), routesDir, problems);
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

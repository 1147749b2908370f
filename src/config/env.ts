/**
 * `${VAR}` and `${VAR:-default}` in a config file, expanded from the environment.
 *
 * Three steps, so that an expression works anywhere a value can stand, in block or flow style:
 * 1. `shield(text)`: before YAML parsing, the characters of each expression that YAML would read
 *    as syntax (`{ } [ ] , : #` and blanks) become private-use characters of the same length, so
 *    `{ port: ${PORT} }` parses and error columns still match the file.
 * 2. `expandEnv(tree)`: after parsing, every string (and mapping key) gets its expressions
 *    replaced. An unset or empty variable without a default is one problem naming it.
 * 3. `coerceEnv(tree, issues)`: a value that was one whole expression arrives as a string; where
 *    the schema wants a number or a boolean there, `"8080"` becomes 8080 and `"true"` true
 *    (quoted or not: `port: "${PORT}"` and `port: ${PORT}` both work). Elsewhere it stays a string.
 * The variable's value is never parsed as YAML: it cannot add keys or structure.
 */
import { formatPath } from './path.js';

const EXPRESSION = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;

/** YAML syntax characters inside `${…}` and the private-use stand-ins (U+E000…) they become. */
const SYNTAX = '{}[],:# \t';
const SHIELD_BASE = 0xe000;
const SHIELDED = new RegExp(
  `[\\u${SHIELD_BASE.toString(16)}-\\u${(SHIELD_BASE + SYNTAX.length - 1).toString(16)}]`,
  'g',
);

/** Hide the YAML syntax inside each `${…}` of the text (same length, so positions still hold). */
export function shield(text: string): string {
  if (!text.includes('${')) return text;
  return text.replace(EXPRESSION, (m) => {
    let out = '';
    for (const ch of m) {
      const i = SYNTAX.indexOf(ch);
      out += i === -1 ? ch : String.fromCharCode(SHIELD_BASE + i);
    }
    return out;
  });
}

/** Undo `shield` in a parsed string (or a parser's error excerpt). */
export function unshield(s: string): string {
  return s.replace(SHIELDED, (ch) => SYNTAX[ch.charCodeAt(0) - SHIELD_BASE]!);
}

/** What expansion found: problems, and the paths whose whole value was one expression. */
export interface Expansion {
  problems: string[];
  /** formatted path → the variable's name, for values that were exactly `${VAR}` */
  whole: Map<string, string>;
  /** formatted paths where a variable was missing (the schema's complaint there is dropped) */
  missing: Set<string>;
}

export function newExpansion(): Expansion {
  return { problems: [], whole: new Map(), missing: new Set() };
}

function expandString(s: string, env: NodeJS.ProcessEnv, x: Expansion, at: string): string {
  const text = unshield(s);
  if (!text.includes('${')) return text;
  let wholeName: string | undefined;
  const out = text.replace(EXPRESSION, (m, key: string, dflt: string | undefined) => {
    if (m === text) wholeName = key;
    const v = env[key];
    if (v !== undefined && v !== '') return v;
    if (dflt !== undefined) return dflt;
    x.problems.push(`${at}: environment variable ${key} is not set`);
    x.missing.add(at);
    return '';
  });
  if (wholeName !== undefined) x.whole.set(at, wholeName);
  return out;
}

/** Replace every `${VAR}` / `${VAR:-default}` in the strings and keys of a parsed tree. */
export function expandEnv(
  value: unknown,
  env: NodeJS.ProcessEnv,
  x: Expansion,
  path: PropertyKey[] = [],
): unknown {
  if (typeof value === 'string') return expandString(value, env, x, formatPath(path));
  if (Array.isArray(value)) return value.map((v, i) => expandEnv(v, env, x, [...path, i]));
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = expandString(k, env, x, formatPath([...path, k]));
      out[key] = expandEnv(v, env, x, [...path, key]);
    }
    return out;
  }
  return value;
}

interface Issue {
  readonly code: string;
  readonly path: readonly PropertyKey[];
  readonly expected?: string;
}

/** The typed value of an env string where the schema wants a number or a boolean, if it reads as one. */
function typed(s: string): number | boolean | undefined {
  if (/^[+-]?[0-9]+(\.[0-9]+)?$/.test(s)) return Number(s);
  if (s === 'true') return true;
  if (s === 'false') return false;
  return undefined;
}

/**
 * Turn whole-expression strings into numbers or booleans at the paths where the schema refused a
 * string (`invalid_type` or a union such as `threads: auto | N`). Returns true if anything changed,
 * so the caller validates again.
 */
export function coerceEnv(tree: unknown, issues: readonly Issue[], x: Expansion): boolean {
  let changed = false;
  for (const issue of issues) {
    if (issue.code !== 'invalid_type' && issue.code !== 'invalid_union') continue;
    if (issue.code === 'invalid_type' && issue.expected !== 'number' && issue.expected !== 'boolean')
      continue;
    if (!x.whole.has(formatPath(issue.path))) continue;
    let parent = tree as Record<PropertyKey, unknown>;
    for (const p of issue.path.slice(0, -1)) parent = parent[p] as Record<PropertyKey, unknown>;
    const key = issue.path[issue.path.length - 1]!;
    const v = parent[key];
    if (typeof v !== 'string') continue;
    const t = typed(v);
    if (t === undefined) continue;
    parent[key] = t;
    changed = true;
  }
  return changed;
}

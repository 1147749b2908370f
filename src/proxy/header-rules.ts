/**
 * What both directions share: the hop-by-hop field names (RFC 9110 §7.6.1), parsing `Connection`
 * for the names it makes hop-by-hop, the per-route `set` / `add` / `remove` rules compiled once,
 * and re-encoding non-ASCII values between uWS (UTF-8 strings) and undici (latin1 strings).
 */
import { isUtf8 } from 'node:buffer';

/** Hop-by-hop in both directions (RFC 9110 §7.6.1, plus the legacy Proxy-Connection). */
export const HOP_BY_HOP: readonly string[] = [
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
];

/** Names listed in the `Connection` field values: hop-by-hop too (RFC 9110 §7.6.1). */
export function connectionNames(values: string, into: string[] | null): string[] | null {
  for (const raw of values.split(',')) {
    const t = raw.trim().toLowerCase();
    if (t === '' || t === 'close' || t === 'keep-alive') continue;
    (into ??= []).push(t);
  }
  return into;
}

/** A route's header rules, flattened for the hot path. */
export interface CompiledRules {
  /** lower-case names whose incoming fields are dropped (remove + set) */
  readonly drop: ReadonlySet<string>;
  /** [name, value, …] to write, replacing any incoming field */
  readonly set: readonly string[];
  /** [name, value, …] to append */
  readonly add: readonly string[];
}

export const NO_RULES: CompiledRules = { drop: new Set(), set: [], add: [] };

export interface RulesConfig {
  set?: Record<string, string> | undefined;
  add?: Record<string, string> | undefined;
  remove?: string[] | undefined;
}

/**
 * Compile `request_headers` / `response_headers`. `forbidden` names cannot be set, added or removed
 * by a rule (framing: the proxy owns them); naming one is a start-up error.
 */
export function compileRules(
  cfg: RulesConfig | undefined,
  where: string,
  forbidden: ReadonlySet<string>,
): CompiledRules {
  if (cfg === undefined) return NO_RULES;
  const drop = new Set<string>();
  const set: string[] = [];
  const add: string[] = [];
  const check = (name: string, what: string): string => {
    const lower = name.toLowerCase();
    if (forbidden.has(lower)) throw new TypeError(`${where}.${what}: "${name}" is managed by the proxy`);
    return lower;
  };
  for (const name of cfg.remove ?? []) drop.add(check(name, 'remove'));
  for (const [name, value] of Object.entries(cfg.set ?? {})) {
    const lower = check(name, 'set');
    drop.add(lower);
    set.push(lower, value);
  }
  for (const [name, value] of Object.entries(cfg.add ?? {})) add.push(check(name, 'add'), value);
  return { drop, set, add };
}

/** Anything outside HTAB and visible ASCII + SP. */
const NOT_PLAIN = /[^\t\x20-\x7e]/;
/** Control characters other than HTAB (never valid in a field value, RFC 9110 §5.5). */
const CONTROL = /[\x00-\x08\x0a-\x1f\x7f]/;

/**
 * A client's field value for undici. uWS hands us values decoded as UTF-8; undici writes values
 * as latin1 and refuses characters above U+00FF. Re-encode so the upstream gets the client's bytes.
 * Returns undefined for a value that cannot be sent (control characters).
 */
export function toUpstreamValue(v: string): string | undefined {
  if (!NOT_PLAIN.test(v)) return v;
  if (CONTROL.test(v)) return undefined;
  return Buffer.from(v, 'utf8').toString('latin1');
}

/**
 * An upstream's field value for uWS. undici decodes values as latin1; uWS writes strings as UTF-8.
 * Bytes that form valid UTF-8 are passed on unchanged; other high bytes are sent as their UTF-8
 * encoding (the only form a string can take). Returns undefined for control characters.
 */
export function toClientValue(v: string): string | undefined {
  if (!NOT_PLAIN.test(v)) return v;
  if (CONTROL.test(v)) return undefined;
  const bytes = Buffer.from(v, 'latin1');
  return isUtf8(bytes) ? bytes.toString('utf8') : v;
}

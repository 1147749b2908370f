/**
 * The router: compiled once from `routes:` at start-up, read per request.
 *
 * Patterns: exact (`/hello`), named parameters (`/fib/:n`), and a trailing wildcard: `/api/*`
 * matches `/api` and every path under it, `/stall*` every path that starts with `/stall` (as in
 * Caddy); the rest is `params['*']`. Patterns that could never match are refused by the config
 * (`patternProblem`). Routes may restrict `methods:`
 * (GET implies HEAD) and `host:` (exact, or `*.example.com`). The first route in file order that
 * matches path, host and method wins. A path that some route matches but not with this method
 * answers 405 with `Allow` listing the methods those routes accept.
 */

export type Params = Record<string, string>;

/** params when the path matches, else null; `NO_PARAMS` when there are none */
type Matcher = (path: string) => Params | null;

export interface RouteSpec<T> {
  path: string;
  methods?: string[] | undefined;
  host?: string | undefined;
  data: T;
}

interface CompiledEntry<T> {
  match: Matcher;
  methods: Set<string> | null;
  host: ((host: string) => boolean) | null;
  data: T;
}

export const NO_PARAMS: Params = Object.freeze({}) as Params;

export type MatchResult<T> =
  | { kind: 'found'; data: T; params: Params }
  | { kind: 'method'; allow: string }
  | { kind: 'none' };

const NOT_FOUND = { kind: 'none' } as const;

function decodeParam(v: string): string {
  if (!v.includes('%')) return v;
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/**
 * Why a route pattern could never match as its author meant, or undefined if it is fine. A `*` is
 * a wildcard only at the end; `?` and `#` never reach routing (the query is not part of the path).
 */
export function patternProblem(pattern: string): string | undefined {
  const star = pattern.indexOf('*');
  if (star !== -1 && star !== pattern.length - 1) {
    const fix = `${pattern.slice(0, star).replace(/\/$/, '')}/*`;
    return `"*" is a wildcard only at the end of a pattern (try "${fix}")`;
  }
  if (star !== -1 && !pattern.endsWith('/*') && pattern.includes('/:')) {
    return `after a :parameter, a wildcard is a whole segment: "${pattern.slice(0, -1).replace(/\/$/, '')}/*"`;
  }
  if (/[?#]/.test(pattern))
    return 'a route pattern is a path: "?" and "#" never match (the query is not routed on)';
  if (/\/:(\/|$)/.test(pattern)) return 'a :parameter needs a name, as in "/users/:id"';
  // Routing sees the path as normalize.ts leaves it: percent-encoded, hex in capitals, no "\\"
  if (pattern.includes('\\'))
    return 'a path with "\\" is refused before routing (400): this route never matches';
  if (/[^\x21-\x7e]/.test(pattern))
    return `routing sees the path percent-encoded, as clients send it: write "${encodeURI(pattern)}"`;
  if (/%[0-9A-F]?[a-f]/.test(pattern))
    return `escapes are matched with capital hex digits: write "${pattern.replace(/%[0-9a-f]{2}/gi, (e) => e.toUpperCase())}"`;
  return undefined;
}

export function compilePattern(pattern: string): Matcher {
  // `/stall*` (no parameters): every path that starts with `/stall`, the rest in params['*'].
  if (pattern.endsWith('*') && !pattern.endsWith('/*') && !pattern.includes('/:')) {
    const prefix = pattern.slice(0, -1);
    return (path) => (path.startsWith(prefix) ? { '*': decodeParam(path.slice(prefix.length)) } : null);
  }
  const wildcard = pattern.endsWith('/*');
  const base = wildcard ? pattern.slice(0, -2) : pattern;
  const segs = base.split('/').slice(1);
  const hasParams = segs.some((s) => s.startsWith(':'));
  if (!hasParams) {
    if (!wildcard) return (path) => (path === base ? NO_PARAMS : null);
    const prefix = base + '/';
    return (path) => {
      if (path.startsWith(prefix)) return { '*': decodeParam(path.slice(prefix.length)) };
      if (path === base || (base === '' && path === '/')) return { '*': '' };
      return null;
    };
  }
  const names = segs.map((s) => (s.startsWith(':') ? s.slice(1) : null));
  // The literal segments before the first parameter, with the slash after them (`/fib/` for
  // `/fib/:n`): a path without it cannot match, and is refused before it is split. Routes are
  // tried in order, so every request reaching a later route passes this check here instead of
  // paying a split per parameter route before it.
  const literal = base.slice(0, base.indexOf('/:') + 1);
  return (path) => {
    if (!path.startsWith(literal)) return null;
    const parts = path.split('/');
    // parts[0] is '' (leading slash)
    if (wildcard ? parts.length - 1 < segs.length : parts.length - 1 !== segs.length) return null;
    const params: Params = {};
    for (let i = 0; i < segs.length; i++) {
      const part = parts[i + 1]!;
      const name = names[i];
      if (name === null) {
        if (part !== segs[i]) return null;
      } else {
        if (part === '') return null;
        params[name!] = decodeParam(part);
      }
    }
    if (wildcard) params['*'] = decodeParam(parts.slice(segs.length + 1).join('/'));
    return params;
  };
}

function compileHost(pattern: string): (host: string) => boolean {
  const p = pattern.toLowerCase();
  if (p.startsWith('*.')) {
    const suffix = p.slice(1);
    return (host) => host.endsWith(suffix) && host.length > suffix.length;
  }
  return (host) => host === p;
}

/** The Host header without its port, lower-cased. */
export function hostName(host: string): string {
  let h = host;
  if (h.startsWith('[')) {
    const end = h.indexOf(']');
    h = end === -1 ? h : h.slice(0, end + 1);
  } else {
    const colon = h.lastIndexOf(':');
    if (colon !== -1) h = h.slice(0, colon);
  }
  return h.toLowerCase();
}

export class Router<T> {
  private readonly entries: CompiledEntry<T>[];
  private readonly anyHost: boolean;

  constructor(specs: RouteSpec<T>[]) {
    this.entries = specs.map((s) => {
      let methods: Set<string> | null = null;
      if (s.methods) {
        methods = new Set(s.methods);
        if (methods.has('GET')) methods.add('HEAD');
      }
      return {
        match: compilePattern(s.path),
        methods,
        host: s.host ? compileHost(s.host) : null,
        data: s.data,
      };
    });
    this.anyHost = this.entries.every((e) => e.host === null);
  }

  match(method: string, host: string, path: string): MatchResult<T> {
    const name = this.anyHost ? '' : hostName(host);
    let allow: Set<string> | null = null;
    for (const e of this.entries) {
      if (e.host !== null && !e.host(name)) continue;
      const params = e.match(path);
      if (params === null) continue;
      if (e.methods === null || e.methods.has(method)) return { kind: 'found', data: e.data, params };
      allow ??= new Set();
      for (const m of e.methods) allow.add(m);
    }
    if (allow === null) return NOT_FOUND;
    return { kind: 'method', allow: [...allow].sort().join(', ') };
  }
}

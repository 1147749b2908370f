/**
 * The configuration schema: the one source of both the TypeScript types (`Config`, via z.output)
 * and the validation (and a JSON Schema for editors, `npm run schema`). Every object is strict:
 * an unknown key is an error that names its path, because a typo that silently does nothing
 * (`timout: 5s`) is the worst kind of config bug.
 */
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { HOP_BY_HOP } from '../proxy/header-rules.js';
import { parseDuration, parseSize } from './units.js';

const size = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const r = parseSize(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'bytes, or a size such as 64KiB, 1MiB' });

const duration = z
  .union([z.string(), z.number()])
  .transform((v, ctx) => {
    const r = parseDuration(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'a duration such as 250ms, 30s, 5m' });

const port = z.number().int().min(0).max(65535);
const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'invalid header name');
const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'header value must not contain CR, LF or NUL');
const headerMap = z.record(headerName, headerValue);
const name = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, _ . -');
const httpMethod = z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens such as GET');

const listen = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port,
  /** `http` (uWS) or `tcp` (the line-protocol job listener, node:net). */
  kind: z.enum(['http', 'tcp']).default('http'),
  /** tcp listeners: the job that answers each line. */
  job: name.optional(),
  /** tcp listeners: close a connection with nothing in flight after this long without a line */
  idle: duration.optional(),
  /** tcp listeners: connections beyond this are refused (closed at once) */
  max_connections: z.number().int().min(1).optional(),
});

const log = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** stdout | stderr | off | a file path */
  access: z.string().min(1).default('stdout'),
  /** stdout | stderr | a file path */
  error: z.string().min(1).default('stderr'),
});

const limits = z.strictObject({
  body: size.default(1024 * 1024),
  headers: z.number().int().min(1).max(1000).default(100),
  header_bytes: size.default(16 * 1024),
  uri: size.default(8 * 1024),
});

const pool = z.strictObject({
  threads: z.union([z.literal('auto'), z.number().int().min(1).max(256)]).default('auto'),
  queue: z.number().int().min(0).default(256),
  idle: duration.default(30_000),
});

const server = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }).refine((u) => {
    const url = new URL(u);
    return url.pathname === '/' && url.search === '' && url.hash === '' && url.username === '';
  }, 'expected scheme://host:port only (for a path, use add_prefix on the route)'),
  weight: z.number().int().min(1).max(1000).default(1),
  backup: z.boolean().default(false),
});

const activeHealth = z.strictObject({
  interval: duration.default(5000),
  path: z.string().startsWith('/').default('/'),
  status: z.union([z.number().int(), z.array(z.number().int())]).default(200),
  timeout: duration.default(2000),
  rise: z.number().int().min(1).default(2),
  fall: z.number().int().min(1).default(3),
});

const upstream = z.strictObject({
  servers: z.array(server).min(1),
  balance: z.enum(['round-robin', 'least-conn', 'hash', 'random-two']).default('round-robin'),
  /** for `balance: hash`: `ip`, `header:NAME` or `cookie:NAME` */
  hash_key: z
    .string()
    .regex(
      /^(ip|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^=;\s]+)$/,
      'expected ip, header:NAME or cookie:NAME',
    )
    .optional(),
  connections: z.number().int().min(1).max(100_000).default(64),
  keepalive: duration.default(4000),
  timeouts: z
    .strictObject({
      connect: duration.default(2000),
      headers: duration.default(30_000),
      idle: duration.default(60_000),
    })
    .prefault({}),
  retries: z
    .strictObject({
      tries: z.number().int().min(1).max(10).default(2),
      /** retry POST/PATCH too (only while nothing was sent); off by default as in nginx */
      non_idempotent: z.boolean().default(false),
    })
    .prefault({}),
  health: z
    .strictObject({
      max_fails: z.number().int().min(0).default(1),
      fail_timeout: duration.default(10_000),
      active: activeHealth.optional(),
    })
    .prefault({}),
  /** send an idempotent request to a second server if the first has not answered in this time */
  hedge: duration.optional(),
});

const headerRules = z.strictObject({
  set: headerMap.optional(),
  add: headerMap.optional(),
  remove: z.array(headerName).optional(),
});

const PROXY_OWNED_FIELDS = [
  ['request_headers', [...HOP_BY_HOP, 'host', 'content-length', 'expect']],
  ['response_headers', [...HOP_BY_HOP, 'content-length', 'date']],
] as const;

/** proxy-addr's syntax: an address, a CIDR, or loopback / linklocal / uniquelocal. */
const trustedProxy = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    try {
      proxyaddr.compile(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

const route = z
  .strictObject({
    path: z.string().startsWith('/', 'a route path starts with /'),
    methods: z.array(httpMethod).min(1).optional(),
    host: z.string().min(1).optional(),
    /** total time for the request; the request scope is cancelled when it passes */
    timeout: duration.optional(),
    /** request body cap for this route (overrides limits.body) */
    body: size.optional(),

    handler: name.optional(),
    proxy: name.optional(),
    respond: z
      .strictObject({
        status: z.number().int().min(200).max(599).default(200),
        headers: headerMap.optional(),
        body: z.string().default(''),
      })
      .optional(),
    redirect: z
      .strictObject({
        to: z
          .string()
          .min(1)
          .regex(/^[^\r\n\0]*$/, 'must not contain CR, LF or NUL'),
        status: z
          .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)])
          .default(302),
      })
      .optional(),

    // handler options
    /** run ctx.run() jobs on the event loop instead of the pool (for measuring only) */
    inline: z.boolean().optional(),

    // proxy options
    strip_prefix: z.string().startsWith('/').optional(),
    /** prefix the upstream path with this (after strip_prefix) */
    add_prefix: z.string().startsWith('/').optional(),
    /** `pass` the client's Host, `upstream` (the server's host:port), or a fixed value */
    host_header: z
      .string()
      .regex(/^[\x21-\x7e]+$/, 'expected pass, upstream, or a host[:port]')
      .default('pass'),
    request_headers: headerRules.optional(),
    response_headers: headerRules.optional(),
    /** at most this many requests in flight on this route; more get 503 at once */
    queue: z.number().int().min(1).optional(),
  })
  .superRefine((r, ctx) => {
    const tracks = (['handler', 'proxy', 'respond', 'redirect'] as const).filter((k) => r[k] !== undefined);
    if (tracks.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message:
          tracks.length === 0
            ? 'a route needs one of handler, proxy, respond, redirect'
            : `a route takes one of handler, proxy, respond, redirect (got ${tracks.join(' and ')})`,
      });
    }
  })
  .superRefine((r, ctx) => {
    // The proxy writes framing and hop-by-hop fields itself (src/proxy/header-rules.ts): a rule
    // naming one would be silently overridden or break the message, so it is a config error.
    for (const [key, owned] of PROXY_OWNED_FIELDS) {
      const rules = r[key];
      if (rules === undefined) continue;
      for (const kind of ['set', 'add', 'remove'] as const) {
        const v = rules[kind];
        const names = v === undefined ? [] : Array.isArray(v) ? v : Object.keys(v);
        for (const n of names) {
          if (owned.includes(n.toLowerCase()))
            ctx.addIssue({ code: 'custom', path: [key, kind], message: `"${n}" is managed by the proxy` });
        }
      }
    }
  });

export const configSchema = z.strictObject({
  listen: z
    .array(listen)
    .min(1)
    .default([{ host: '127.0.0.1', port: 8080, kind: 'http' }]),
  log: log.prefault({}),
  limits: limits.prefault({}),
  shutdown: z.strictObject({ grace: duration.default(10_000) }).prefault({}),
  pool: pool.prefault({}),
  /** CIDRs or names (loopback, linklocal, uniquelocal) whose X-Forwarded-* headers are trusted */
  trusted_proxies: z.array(trustedProxy).default([]),
  /** where handler modules are found; default: the built routes/ of this package */
  routes_dir: z.string().min(1).optional(),
  upstreams: z.record(name, upstream).default({}),
  routes: z.array(route).default([]),
});

export type ConfigInput = z.input<typeof configSchema>;
export type Config = z.output<typeof configSchema>;
export type RouteConfig = Config['routes'][number];
export type UpstreamConfig = Config['upstreams'][string];
export type ListenConfig = Config['listen'][number];

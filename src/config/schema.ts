/**
 * The configuration schema: the one source of both the TypeScript types (`Config`, via z.output)
 * and the validation. Every object is strict: an unknown key is an error that names its path,
 * because a typo that silently does nothing (`timout: 5s`) is the worst kind of config bug.
 *
 * Routes are built from the track registry (src/tracks): a route names exactly one track key and
 * is validated against the common route keys plus that track's keys; the track's `check` then
 * looks at cross-references (an upstream's name, a module on disk). Those need to know what else
 * the file declares, so the schema is built per file by `configSchema(refs)`.
 */
import { z } from 'zod';
import { compressSchema } from '../compress/schema.js';
import { hasReusePort } from '../node-version.js';
import { patternProblem } from '../router/router.js';
import { threadCount } from '../threads/count.js';
import { tracks } from '../tracks/index.js';
import type { CheckRefs, Track } from '../tracks/track.js';
import { duration, httpMethod, name, proxyAddrEntry, rate, requestKey, size } from './fields.js';
import { listener, listenerCollisions } from './listen.js';
import { probes, proxyProtocolProblems, shutdown } from './operate.js';

const log = z.strictObject({
  level: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']).default('info'),
  /** stdout | stderr | off | a file path */
  access: z.string().min(1).default('stdout'),
  /** stdout | stderr | a file path */
  error: z.string().min(1).default('stderr'),
  /** one error-log line per interval counting connections closed without a request (node engine); off: none */
  no_request_interval: z.union([z.literal('off'), duration]).default(60_000),
});

const limits = z
  .strictObject({
    body: size.default(1024 * 1024),
    headers: z.number().int().min(1).max(1000).default(100),
    header_bytes: size.default(16 * 1024),
    uri: size.default(8 * 1024),
    /** node engine: the request head must arrive within this (nginx client_header_timeout); uWS: fixed ≈ 10 s */
    header_timeout: duration.default(60_000),
    /** node engine: idle keep-alive connections close after this (nginx keepalive_timeout) */
    keepalive_timeout: duration.default(75_000),
    /** node engine: the whole request, head and body, must arrive within this */
    request_timeout: duration.default(300_000),
    /** node engine: a client that reads nothing of a response for this long is closed (nginx send_timeout) */
    send_timeout: duration.default(60_000),
  })
  .superRefine((l, ctx) => {
    if (l.header_timeout > l.request_timeout)
      ctx.addIssue({ code: 'custom', path: ['header_timeout'], message: 'longer than request_timeout' });
  });

const pool = z.strictObject({
  threads: z
    .union([z.literal('auto'), z.number().int().min(1).max(256)], {
      error: 'expected auto or a whole number 1–256',
    })
    .default('auto'),
  queue: z.number().int().min(0).default(256),
  idle: duration.default(30_000),
});

const server = z.strictObject({
  url: z
    .url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL such as http://127.0.0.1:8081' })
    .refine((u) => {
      // zod runs refinements after a failed format check: a URL refused above is not judged again.
      if (!URL.canParse(u)) return true;
      const url = new URL(u);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') return true;
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

const upstream = z
  .strictObject({
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
  })
  .superRefine((u, ctx) => {
    if (u.balance === 'hash' && u.hash_key === undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['hash_key'],
        message: 'required when balance is hash (ip, header:NAME or cookie:NAME)',
      });
    }
    if (u.servers.length > 0 && u.servers.every((s) => s.backup)) {
      ctx.addIssue({ code: 'custom', path: ['servers'], message: 'every server is a backup' });
    }
  });

/**
 * `shared:` — structures in the process's shared-memory region, for handlers (`ctx.shared`).
 * Fixed at start-up: a reload keeps the region as it is (changing it needs a restart).
 */
const shared = z.strictObject({
  counters: z
    .array(name)
    .default([])
    .superRefine((names, ctx) => {
      names.forEach((n, i) => {
        if (names.indexOf(n) !== i)
          ctx.addIssue({ code: 'custom', path: [i], message: `counter "${n}" is declared twice` });
      });
    }),
  buckets: z
    .record(name, z.strictObject({ limit: rate, burst: z.number().int().min(0).max(1_000_000).default(0) }))
    .default({}),
  tables: z
    .record(
      name,
      z.strictObject({
        size: z
          .number()
          .int()
          .min(1)
          .max(1 << 20),
        key: size.default(64).refine((n) => n >= 1 && n <= 1024, 'key: 1 to 1024 bytes'),
        value: size.default(256).refine((n) => n <= 64 * 1024, 'value: at most 64KiB'),
      }),
    )
    .default({}),
});

/** `rate:` on a route: a token bucket per key, shared by every acceptor thread. */
const routeRate = z.strictObject({
  limit: rate,
  /** requests allowed at once beyond the steady rate (nginx's burst, without queueing) */
  burst: z.number().int().min(0).max(1_000_000).default(0),
  key: requestKey.default('ip'),
  /** distinct keys remembered at once; the least recently used of a full window is forgotten */
  keys: z
    .number()
    .int()
    .min(16)
    .max(1 << 20)
    .default(65_536),
});

/** The keys every route has, whatever its track. */
const commonRoute = {
  path: z
    .string()
    .startsWith('/', 'a route path starts with /')
    .superRefine((p, ctx) => {
      const why = patternProblem(p);
      if (why !== undefined) ctx.addIssue({ code: 'custom', message: why });
    }),
  methods: z.array(httpMethod).min(1).optional(),
  host: z.string().min(1).optional(),
  /** total time for the request; the request scope is cancelled when it passes */
  timeout: duration.optional(),
  /** request body cap for this route (overrides limits.body) */
  body: size.optional(),
  /** at most this many requests in flight on this route; more get 503 at once */
  queue: z.number().int().min(1).optional(),
  /** rate limit: `{ limit: 100/s, burst: 50, key: ip | header:NAME | cookie:NAME }` → 429 beyond it */
  rate: routeRate.optional(),
  /** compress responses (gzip, br) for clients that accept it (src/compress) */
  compress: compressSchema.optional(),
};

type Tracks = (typeof tracks)[number];
type RouteOf<T> =
  T extends Track<infer N, infer S>
    ? { track: N } & z.output<z.ZodObject<typeof commonRoute & S, z.core.$strict>>
    : never;
/** A validated route: the common keys, its track's keys, and `track` naming the track. */
export type RouteConfig = RouteOf<Tracks>;

const routeSchemas = new Map<string, z.ZodType>(
  tracks.map((t) => [t.name, z.strictObject({ ...commonRoute, ...t.shape })]),
);
/** route key → the track it belongs to, for "only applies to proxy routes" */
const keyOwner = new Map<string, string>();
for (const t of tracks) for (const k of Object.keys(t.shape)) if (k !== t.name) keyOwner.set(k, t.name);
const TRACK_NAMES = tracks.map((t) => t.name).join(', ');
/** every key some route may have: with no track named, a misspelt one is the likely cause */
const routeKeys = new Set([
  ...Object.keys(commonRoute),
  ...tracks.flatMap((t) => [t.name, ...Object.keys(t.shape)]),
]);

function route(refs: CheckRefs) {
  return z.unknown().transform((input, ctx): RouteConfig => {
    if (input === null || typeof input !== 'object' || Array.isArray(input)) {
      ctx.addIssue({ code: 'custom', message: 'expected a mapping' });
      return z.NEVER;
    }
    const r = input as Record<string, unknown>;
    const named = tracks.filter((t) => r[t.name] !== undefined);
    if (named.length !== 1) {
      if (named.length === 0)
        for (const k of Object.keys(r))
          if (!routeKeys.has(k)) ctx.addIssue({ code: 'custom', path: [k], message: 'unknown key' });
      ctx.addIssue({
        code: 'custom',
        message:
          named.length === 0
            ? `a route needs one of ${TRACK_NAMES}`
            : `a route takes one of ${TRACK_NAMES} (got ${named.map((t) => t.name).join(' and ')})`,
      });
      return z.NEVER;
    }
    const track = named[0]! as unknown as Track;
    const own: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r)) {
      const owner = keyOwner.get(k);
      if (owner === undefined || owner === track.name || track.shape[k] !== undefined) own[k] = v;
      else ctx.addIssue({ code: 'custom', path: [k], message: `only applies to ${owner} routes` });
    }
    const parsed = routeSchemas.get(track.name)!.safeParse(own);
    if (!parsed.success) {
      for (const issue of parsed.error.issues) ctx.addIssue(issue as z.core.$ZodRawIssue);
      return z.NEVER;
    }
    const data = parsed.data as RouteConfig;
    for (const p of track.check?.(data as never, refs) ?? []) {
      ctx.addIssue({ code: 'custom', path: [p.key], message: p.message });
    }
    return { ...data, track: track.name } as RouteConfig;
  });
}

/** The whole config schema for one file (`refs`: what its cross-references may point at). */
export function configSchema(refs: CheckRefs) {
  return z
    .strictObject({
      listen: z
        .array(listener(refs))
        .min(1)
        .default([{ host: '127.0.0.1', port: 8080, kind: 'http' }])
        .superRefine((ls, ctx) => {
          const i = ls.findIndex((l) => l.redirect_https === true);
          if (i !== -1 && !ls.some((l) => l.tls !== undefined))
            ctx.addIssue({
              code: 'custom',
              path: [i, 'redirect_https'],
              message: 'no listener has tls to redirect to',
            });
          listenerCollisions(ls, ctx);
        }),
      /** acceptor threads: `auto` = one per core; 1 = the main thread serves (no thread hop) */
      threads: z
        .union([z.literal('auto'), z.number().int().min(1).max(256)], {
          error: 'expected auto or a whole number 1–256',
        })
        .default(1),
      /** the shared-memory region handlers reach as ctx.shared */
      shared: shared.prefault({}),
      log: log.prefault({}),
      limits: limits.prefault({}),
      shutdown: shutdown.prefault({}),
      /** a pid file: written at start (refused if a live instance holds it), removed at exit */
      pid: z.string().min(1).optional(),
      probes: probes.prefault({}),
      pool: pool.prefault({}),
      /** CIDRs or names (loopback, linklocal, uniquelocal) whose X-Forwarded-* headers are trusted */
      trusted_proxies: z.array(proxyAddrEntry).default([]),
      /** where handler modules are found, relative to the config file; default: this package's built routes/ */
      routes_dir: z.string().min(1).optional(),
      upstreams: z.record(name, upstream).default({}),
      routes: z.array(route(refs)).default([]),
    })
    .superRefine((c, ctx) => {
      proxyProtocolProblems(c, ctx);
      // found by `check`, not by the first start (src/server/node/engine.ts refuses it there too)
      if (threadCount(c) > 1 && !hasReusePort())
        c.listen.forEach((l, i) => {
          if (l.kind === 'http' && l.engine === 'node')
            ctx.addIssue({
              code: 'custom',
              path: ['listen', i, 'engine'],
              message: `with threads, the node engine needs Node 22.12 or later (SO_REUSEPORT); this is ${process.version}: use engine: uws or threads: 1`,
            });
        });
    });
}

export type ConfigInput = z.input<ReturnType<typeof configSchema>>;
export type Config = z.output<ReturnType<typeof configSchema>>;
export type UpstreamConfig = Config['upstreams'][string];
export type ListenConfig = Config['listen'][number];

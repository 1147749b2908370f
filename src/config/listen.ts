/**
 * A `listen:` entry: its keys, the checks that need more than one key or the disk, and the
 * listeners that could not all be bound together.
 */
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { z } from 'zod';
import { tlsProblems } from '../tls/load.js';
import { tlsSchema } from '../tls/schema.js';
import { type CheckRefs, lookedFor } from '../tracks/track.js';
import { duration, name, port } from './fields.js';
import { listenerProxyProtocol } from './operate.js';

/**
 * A host name: dot-separated labels of letters, digits, and inner hyphens (RFC 1123) or
 * underscores (container and /etc/hosts names often have them).
 */
const HOST_NAME =
  /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*$/;

/**
 * What a listener can bind: an IPv4 or IPv6 address (`0.0.0.0`, `::` for every interface) or a
 * host name. An empty one (`host: ${HOST:-}`) would bind every interface, and uWS then a random port.
 */
const listenHost = z.string().superRefine((h, ctx) => {
  if (isIP(h) !== 0) return;
  if (h.startsWith('[') && h.endsWith(']') && isIP(h.slice(1, -1)) === 6) {
    ctx.addIssue({ code: 'custom', message: `an IPv6 address without brackets: ${h.slice(1, -1)}` });
  } else if (h === '') {
    ctx.addIssue({
      code: 'custom',
      message: 'empty: 0.0.0.0 or :: for every interface, 127.0.0.1 for this machine',
    });
  } else if (/^[0-9.]+$/.test(h) || !HOST_NAME.test(h)) {
    ctx.addIssue({ code: 'custom', message: `"${h}" is not an IP address or a host name` });
  }
});

const listenShape = (refs: CheckRefs) => ({
  host: listenHost.default('127.0.0.1'),
  port,
  /** `http` or `tcp` (the line-protocol job listener, node:net). */
  kind: z.enum(['http', 'tcp']).default('http'),
  /** http listeners: `uws` (default where it loads) or `node` (node:http / node:http2) */
  engine: z.enum(['uws', 'node']).optional(),
  /** node engine: HTTP/2 over cleartext with prior knowledge (this listener then speaks only HTTP/2) */
  h2c: z.boolean().optional(),
  /** tcp listeners: the job that answers each line. */
  job: name.optional(),
  /** tcp listeners: close a connection with nothing in flight after this long without a line */
  idle: duration.optional(),
  /** tcp listeners: connections beyond this are refused (closed at once) */
  max_connections: z.number().int().min(1).optional(),
  /**
   * http listeners: request bodies with `Transfer-Encoding: chunked`. `refuse` (the default) answers
   * 411 and closes; `accept` trusts uWS's lenient chunked decoder, which can smuggle (SECURITY.md).
   */
  chunked_requests: z.enum(['refuse', 'accept']).optional(),
  /** http listeners: terminate TLS (src/tls/schema.ts) */
  tls: tlsSchema(refs.configDir).optional(),
  /** plain http listeners: answer every request with a redirect to the first tls listener */
  redirect_https: z.boolean().optional(),
  /**
   * http listeners: every connection starts with a PROXY protocol header from a peer in
   * `trusted_proxies` (anything else is refused). `true`: v1 or v2 on the node engine, v2 on uWS
   * (which cannot parse v1); `v1` / `v2`: only that version.
   */
  proxy_protocol: z.union([z.boolean(), z.enum(['v1', 'v2'])]).optional(),
});

/** Listener checks that need more than one key, or the modules on disk. */
export function listener(refs: CheckRefs) {
  return z.strictObject(listenShape(refs)).superRefine((l, ctx) => {
    if (l.kind === 'tcp' && l.job === undefined)
      ctx.addIssue({ code: 'custom', path: ['job'], message: 'a tcp listener needs a job' });
    if (l.kind === 'tcp') {
      for (const k of ['engine', 'h2c'] as const) {
        if (l[k] !== undefined)
          ctx.addIssue({ code: 'custom', path: [k], message: `only http listeners take ${k}` });
      }
    }
    if (l.h2c === true && l.engine === 'uws')
      ctx.addIssue({ code: 'custom', path: ['h2c'], message: 'h2c needs engine: node' });
    if (l.h2c === true && l.tls !== undefined)
      ctx.addIssue({
        code: 'custom',
        path: ['h2c'],
        message: 'h2c is cleartext: not with tls (TLS speaks h2 by ALPN)',
      });
    listenerProxyProtocol(l, ctx);
    if (l.kind === 'http') {
      for (const k of ['job', 'idle', 'max_connections'] as const) {
        if (l[k] !== undefined)
          ctx.addIssue({
            code: 'custom',
            path: [k],
            message: `only tcp listeners take ${k === 'job' ? 'a job' : k}`,
          });
      }
    } else if (l.chunked_requests !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['chunked_requests'],
        message: 'only http listeners take chunked_requests',
      });
    }
    if (l.kind === 'tcp' && (l.tls !== undefined || l.redirect_https === true))
      ctx.addIssue({
        code: 'custom',
        path: [l.tls ? 'tls' : 'redirect_https'],
        message: 'only http listeners take it',
      });
    if (l.tls !== undefined && l.redirect_https === true)
      ctx.addIssue({
        code: 'custom',
        path: ['redirect_https'],
        message: 'a tls listener cannot redirect to https',
      });
    if (l.tls !== undefined)
      for (const p of tlsProblems(l.tls))
        ctx.addIssue({ code: 'custom', path: ['tls', ...p.path], message: p.message });
    if (l.job !== undefined) {
      const file = join(refs.routesDir, 'jobs', `${l.job}.js`);
      if (!existsSync(file))
        ctx.addIssue({
          code: 'custom',
          path: ['job'],
          message: `unknown job "${l.job}" (${lookedFor(file)})`,
        });
    }
  });
}

/** host:port as it is written in a URL (an IPv6 address in brackets). */
function hostPort(host: string, port: number): string {
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Do two listen hosts on one port collide because one of them is a wildcard address? */
function overlaps(a: string, b: string): boolean {
  const wild = (h: string) => h === '0.0.0.0' || h === '::';
  if (a === '::' || b === '::') return true;
  return (wild(a) || wild(b)) && isIP(wild(a) ? b : a) !== 6;
}

/** Listeners that could not all be bound at start: the same address twice, or under a wildcard. */
export function listenerCollisions(
  ls: readonly { host: string; port: number }[],
  ctx: z.core.$RefinementCtx,
): void {
  const seen = new Map<string, number>();
  ls.forEach((l, i) => {
    if (l.port === 0) return;
    const key = `${l.host}:${l.port}`;
    const prev = seen.get(key);
    if (prev !== undefined) {
      ctx.addIssue({ code: 'custom', path: [i], message: `${key} is already used by listen[${prev}]` });
      return;
    }
    // 0.0.0.0 (every IPv4 interface) or :: (every interface, IPv4 too) holds the port on the
    // other addresses: binding one of them as well fails at start (EADDRINUSE)
    const j = ls.findIndex(
      (o, k) => k < i && o.port === l.port && o.host !== l.host && overlaps(o.host, l.host),
    );
    if (j !== -1)
      ctx.addIssue({
        code: 'custom',
        path: [i],
        message: `${key} overlaps listen[${j}] (${hostPort(ls[j]!.host, l.port)}): one of them binds every interface`,
      });
    seen.set(key, i);
  });
}

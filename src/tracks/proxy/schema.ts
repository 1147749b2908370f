/** The proxy track's route keys, and the type of a validated proxy route. */
import { z } from 'zod';
import { headerMap, headerName, name } from '../../config/fields.js';
import { HOP_BY_HOP } from '../../proxy/header-rules.js';
import type { CommonRoute } from '../track.js';
import { wsLimitShape } from '../websocket/limits.js';

const headerRules = z.strictObject({
  set: headerMap.optional(),
  add: headerMap.optional(),
  remove: z.array(headerName).optional(),
});

/** Fields the proxy writes itself: a rule naming one would be overridden or break the message. */
function managedBy(owned: readonly string[]) {
  return headerRules.superRefine((rules, ctx) => {
    for (const kind of ['set', 'add', 'remove'] as const) {
      const v = rules[kind];
      const names = v === undefined ? [] : Array.isArray(v) ? v : Object.keys(v);
      for (const n of names) {
        if (owned.includes(n.toLowerCase()))
          ctx.addIssue({ code: 'custom', path: [kind], message: `"${n}" is managed by the proxy` });
      }
    }
  });
}

export const proxyShape = {
  proxy: name,
  strip_prefix: z.string().startsWith('/').optional(),
  /** prefix the upstream path with this (after strip_prefix) */
  add_prefix: z.string().startsWith('/').optional(),
  /** `pass` the client's Host, `upstream` (the server's host:port), or a fixed value */
  host_header: z
    .string()
    .regex(/^[\x21-\x7e]+$/, 'expected pass, upstream, or a host[:port]')
    .default('pass'),
  request_headers: managedBy([...HOP_BY_HOP, 'host', 'content-length', 'expect']).optional(),
  response_headers: managedBy([...HOP_BY_HOP, 'content-length', 'date']).optional(),
  /** limits for WebSocket upgrades through this route (src/tracks/websocket/limits.ts) */
  ws: z.strictObject(wsLimitShape).optional(),
};

/** A validated `proxy:` route. */
export type ProxyRouteConfig = z.output<z.ZodObject<typeof proxyShape>> & CommonRoute;

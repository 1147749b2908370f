/**
 * The redirect track: `{ path: /old, redirect: { to: "https://$host$request_uri", status: 301 } }`,
 * with nginx-style variables `$scheme`, `$host`, `$path`, `$query`, `$request_uri` in `to`.
 */
import { z } from 'zod';
import { type Reply, safeValue } from '../../exchange.js';
import { defineTrack } from '../track.js';

export const redirectTrack = defineTrack({
  name: 'redirect',
  shape: {
    redirect: z.strictObject({
      to: z
        .string()
        .min(1)
        .regex(/^[^\r\n\0]*$/, 'must not contain CR, LF or NUL'),
      status: z
        .union([z.literal(301), z.literal(302), z.literal(303), z.literal(307), z.literal(308)], {
          error: 'expected 301, 302, 303, 307 or 308',
        })
        .default(302),
    }),
  },
  compile(route) {
    const cfg = route.redirect;
    const headers = { location: cfg.to, 'content-type': 'text/plain; charset=utf-8' };
    const fixed: Reply = { status: cfg.status, headers, body: `redirecting to ${cfg.to}\n` };
    if (!cfg.to.includes('$')) return () => fixed;
    return (ex) => {
      const query = ex.query === '' ? '' : `?${ex.query}`;
      const to = cfg.to.replace(/\$(request_uri|scheme|host|path|query)\b/g, (_m, v: string) => {
        switch (v) {
          case 'request_uri':
            return ex.path + query;
          case 'scheme':
            return ex.secure ? 'https' : 'http';
          case 'host':
            return ex.host;
          case 'path':
            return ex.path;
          default:
            return ex.query;
        }
      });
      // The Host field is the client's: never let it smuggle a line break into Location.
      const location = safeValue(to) ? to : cfg.to;
      return {
        status: cfg.status,
        headers: { location, 'content-type': 'text/plain; charset=utf-8' },
        body: `redirecting to ${location}\n`,
      };
    };
  },
});

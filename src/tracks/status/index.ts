/**
 * The status track: `{ path: /status, status: {} }` — a page a person can look at (requests per
 * second and status classes per route, latency percentiles, upstream servers, the job pool, open
 * connections), live: the page fetches `?format=json` every second. One self-contained HTML file,
 * no external assets, read-only; peers in `allow` only (default: loopback).
 */
import { z } from 'zod';
import { syError } from '../../errors.js';
import type { Reply } from '../../exchange.js';
import { STATUS_PAGE } from '../../observe/status/page.js';
import { allowList, compileAllow } from '../peer-allow.js';
import { defineTrack } from '../track.js';

const HTML = {
  'content-type': 'text/html; charset=utf-8',
  'cache-control': 'no-store',
  // The page is ours alone: no external anything, no framing by others.
  'content-security-policy':
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
};
const JSON_HEADERS = { 'content-type': 'application/json', 'cache-control': 'no-store' };

export const statusTrack = defineTrack({
  name: 'status',
  shape: {
    status: z.strictObject({ allow: allowList }).prefault({}),
  },
  compile(route, env) {
    const allowed = compileAllow(route.status.allow, env.services.upstreams.trust);
    const services = env.services;
    const page: Reply = { status: 200, headers: HTML, body: STATUS_PAGE };
    return async (ex): Promise<Reply> => {
      if (!allowed(ex)) throw syError('SY_ERR_FORBIDDEN', 'status: client not in allow');
      if (!/(^|&)format=json(&|$)/.test(ex.query)) return page;
      const views = services.views;
      if (views === undefined) throw syError('SY_ERR_NOT_FOUND', 'status: no server views here');
      return { status: 200, headers: JSON_HEADERS, body: JSON.stringify(await views.status()) };
    };
  },
});

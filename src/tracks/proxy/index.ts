/**
 * The proxy track: `{ path: "/api/*", proxy: app, strip_prefix: /api }` forwards to the upstream
 * pool `app` (src/proxy: balancing, health, retries, hedging, streaming both ways). The pools
 * belong to the route table (`services.upstreams`); a route only picks one and compiles its path
 * rewrite and header rules.
 */
import { allowList, maxForwardsReply } from '../../proxy/max-forwards.js';
import { defineTrack, type RunFn } from '../track.js';
import { proxyShape } from './schema.js';

export const proxyTrack = defineTrack({
  name: 'proxy',
  shape: proxyShape,
  check(route, refs) {
    const out: { key: string; message: string }[] = [];
    if (!refs.upstreams.has(route.proxy))
      out.push({ key: 'proxy', message: `unknown upstream "${route.proxy}"` });
    if (route.strip_prefix !== undefined && !route.path.startsWith(route.strip_prefix)) {
      out.push({
        key: 'strip_prefix',
        message: `"${route.strip_prefix}" is not a prefix of the route path "${route.path}"`,
      });
    }
    return out;
  },
  compile(route, env): RunFn {
    const run = env.services.upstreams.route(route, env.where);
    const allow = allowList(route.methods);
    // RFC 9110 §7.6.2: OPTIONS / TRACE with Max-Forwards: 0 is ours to answer (test/max-forwards.test.ts)
    const out: RunFn = (ex, params) =>
      ex.method === 'OPTIONS' || ex.method === 'TRACE'
        ? (maxForwardsReply(ex, allow) ?? run(ex, params))
        : run(ex, params);
    out.websocket = run.websocket; // upgrades: test/websocket/proxy.test.ts
    return out;
  },
});

/**
 * The metrics track: `{ path: /metrics, metrics: {} }` answers the Prometheus exposition (text
 * format 0.0.4; src/observe/prometheus.ts) to peers in `allow` (default: loopback only).
 */
import { z } from 'zod';
import { syError } from '../../errors.js';
import type { Reply } from '../../exchange.js';
import { allowList, compileAllow } from '../peer-allow.js';
import { defineTrack } from '../track.js';

export const metricsTrack = defineTrack({
  name: 'metrics',
  shape: {
    metrics: z.strictObject({ allow: allowList }).prefault({}),
  },
  compile(route, env) {
    const allowed = compileAllow(route.metrics.allow, env.services.upstreams.trust);
    const services = env.services;
    return async (ex): Promise<Reply> => {
      if (!allowed(ex)) throw syError('SY_ERR_FORBIDDEN', 'metrics: client not in allow');
      const views = services.views;
      if (views === undefined) throw syError('SY_ERR_NOT_FOUND', 'metrics: no server views here');
      const m = await views.metrics();
      return { status: 200, headers: { 'content-type': m.type, 'cache-control': 'no-store' }, body: m.text };
    };
  },
});

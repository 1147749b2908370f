/** The respond track: `{ path: /healthz, respond: { status: 200, body: ok } }`, a reply built once. */
import { z } from 'zod';
import { headerMap } from '../../config/fields.js';
import type { Reply } from '../../exchange.js';
import { defineTrack } from '../track.js';

export const respondTrack = defineTrack({
  name: 'respond',
  shape: {
    respond: z.strictObject({
      status: z.number().int().min(200).max(599).default(200),
      headers: headerMap.optional(),
      body: z.string().default(''),
    }),
  },
  compile(route) {
    const cfg = route.respond;
    const reply: Reply = {
      status: cfg.status,
      headers: { 'content-type': 'text/plain; charset=utf-8', ...cfg.headers },
      body: cfg.body,
    };
    return () => reply;
  },
});

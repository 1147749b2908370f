/**
 * The websocket track: `{ path: /game, websocket: game }` runs `routes/game.ts` for WebSocket
 * connections (module.ts: `upgrade`, `open`, `message`, `close`). A plain HTTP request to the
 * route is answered 426 Upgrade Required.
 *
 * Before the handshake: the subprotocol is chosen (the first the client offers that `protocols`
 * lists; a client offering only others is refused 400), then `upgrade(ctx)` runs with the
 * handler Context (headers, query, cookies, remote address, shared state) and may refuse by
 * returning a Reply or throwing an HttpError (401/403/429…). After it: session.ts.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { name } from '../../config/fields.js';
import { syError } from '../../errors.js';
import type { Reply } from '../../exchange.js';
import type { WsAccept } from '../../http/websocket.js';
import { Context } from '../handler/context.js';
import { defineTrack, lookedFor, type RunFn } from '../track.js';
import { WS_ROUTE_DEFAULTS, wsLimitShape, wsLimits } from './limits.js';
import { loadWsModule } from './module.js';
import { openSession } from './session.js';

function offered(v: string | undefined): string[] {
  return v === undefined
    ? []
    : v
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

const UPGRADE_REQUIRED: Reply = {
  status: 426,
  headers: { 'content-type': 'text/plain; charset=utf-8' },
  body: 'this route takes WebSocket connections only\n',
};

function isReply(v: unknown): v is Reply {
  return typeof v === 'object' && v !== null && typeof (v as Reply).status === 'number';
}

export const websocketTrack = defineTrack({
  name: 'websocket',
  shape: {
    websocket: name,
    ...wsLimitShape,
    /** subprotocols this route speaks, preferred first */
    protocols: z.array(z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/)).optional(),
  },
  check(route, refs) {
    const out: { key: string; message: string }[] = [];
    const file = join(refs.routesDir, `${route.websocket}.js`);
    if (!existsSync(file))
      out.push({
        key: 'websocket',
        message: `no websocket module "${route.websocket}" (${lookedFor(file)})`,
      });
    return out;
  },
  async compile(route, env) {
    const mod = await loadWsModule(env.routesDir, route.websocket);
    const services = env.services;
    const limits = wsLimits(route, WS_ROUTE_DEFAULTS);
    const protocols = route.protocols;
    const log = services.logs.error;
    const run: RunFn = () => UPGRADE_REQUIRED;
    run.websocket = async (ex, params): Promise<WsAccept | Reply> => {
      let protocol = '';
      const asked = offered(ex.header('sec-websocket-protocol'));
      if (protocols !== undefined && asked.length !== 0) {
        protocol = protocols.find((p) => asked.includes(p)) ?? '';
        if (protocol === '')
          throw syError(
            'SY_ERR_BAD_REQUEST',
            `no supported subprotocol (this route speaks ${protocols.join(', ')})`,
          );
      }
      let data: unknown;
      if (mod.upgrade !== undefined) {
        const ctx = new Context(ex, params, services, { inline: false });
        const r = await mod.upgrade(ctx);
        if (isReply(r)) return r;
        // an object ({ data }) or nothing accepts; a string or a number is a mistake, as it is
        // from a handler (SY_ERR_BAD_REPLY), not a quiet yes with ws.data undefined
        if (r !== undefined && r !== null && typeof r !== 'object')
          throw syError(
            'SY_ERR_BAD_REPLY',
            `upgrade() returned a ${typeof r}: a Reply refuses, { data } or nothing accepts`,
          );
        data = (r as { data?: unknown } | undefined)?.data;
      }
      const remote = ex.remoteAddress;
      return {
        kind: 'websocket',
        protocol,
        limits,
        abandon() {},
        open: (socket) => openSession(mod, socket, { remote, protocol, data, log, route: route.path }),
      };
    };
    return run;
  },
});

/**
 * WebSocket limits in the config, the same keys for both kinds of WebSocket route:
 *   { path: /chat, websocket: chat, max_message: 16KiB, idle: 10m, ping: 20s, max_backpressure: 256KiB, deflate: true }
 *   { path: "/api/*", proxy: app, ws: { max_message: 4MiB, idle: 0, ping: 30s } }
 * What each one does is stated on WsLimits (src/http/websocket.ts); the engine enforces them.
 *
 * The engine's own cap (what it buffers before a message is complete) is the largest
 * `max_message` of the config it started with plus a margin (`engineMaxMessage`): a message a
 * little over its route's limit gets a clean 1009 close, one past the engine's cap is refused by
 * the engine as its frame header arrives (uWS cuts the connection: the client sees 1006; the node
 * engine's `ws` closes with 1009), and no route lets a client make the engine buffer much more
 * than the largest route allows. A reload keeps the engine's cap.
 */
import { z } from 'zod';
import { duration, size } from '../../config/fields.js';
import type { RouteConfig } from '../../config/schema.js';
import type { WsLimits } from '../../http/websocket.js';

/** No route may allow messages larger than this. */
export const MAX_MESSAGE_CAP = 64 * 1024 * 1024;

const maxMessage = size.refine((v) => v >= 1 && v <= MAX_MESSAGE_CAP, {
  message: 'between 1 byte and 64MiB',
});
const maxBackpressure = size.refine((v) => v >= 1024, { message: 'at least 1KiB' });
const ping = duration.refine((v) => v === 0 || v >= 100, { message: '0 (never) or at least 100ms' });

/** The limit keys (all optional; the defaults below apply). */
export const wsLimitShape = {
  /** largest message from the client; past it: close 1009 */
  max_message: maxMessage.optional(),
  /** no message from the client for this long: close 1001 (0 = never) */
  idle: duration.optional(),
  /** ping a client that has been silent this long; cut it after a second silent period (0 = never) */
  ping: ping.optional(),
  /** bytes queued for a client that reads too slowly; past it: close 1008 */
  max_backpressure: maxBackpressure.optional(),
  /** permessage-deflate when the client offers it */
  deflate: z.boolean().optional(),
};

export type WsLimitKeys = z.output<z.ZodObject<typeof wsLimitShape>>;

/** In-process routes: chat and game traffic (small messages, a player idle for 2 min is gone). */
export const WS_ROUTE_DEFAULTS: WsLimits = {
  maxMessage: 64 * 1024,
  idle: 120_000,
  ping: 30_000,
  maxBackpressure: 1024 * 1024,
  deflate: false,
};

/** Proxied upgrades: the origin decides what is idle; the proxy only finds dead peers. */
export const WS_PROXY_DEFAULTS: WsLimits = {
  maxMessage: 1024 * 1024,
  idle: 0,
  ping: 30_000,
  maxBackpressure: 1024 * 1024,
  deflate: false,
};

export function wsLimits(keys: WsLimitKeys | undefined, defaults: WsLimits): WsLimits {
  return {
    maxMessage: keys?.max_message ?? defaults.maxMessage,
    idle: keys?.idle ?? defaults.idle,
    ping: keys?.ping ?? defaults.ping,
    maxBackpressure: keys?.max_backpressure ?? defaults.maxBackpressure,
    deflate: keys?.deflate ?? defaults.deflate,
  };
}

/** Over a route's limit by at most this, a message is closed with 1009 rather than cut. */
export const ENGINE_MARGIN = 64 * 1024;

/** The engine's cap for a config: the largest message any of its routes accepts, plus the margin. */
export function engineMaxMessage(routes: readonly RouteConfig[]): number {
  let max = WS_ROUTE_DEFAULTS.maxMessage;
  for (const r of routes) {
    if (r.track === 'websocket') max = Math.max(max, r.max_message ?? WS_ROUTE_DEFAULTS.maxMessage);
    else if (r.track === 'proxy') max = Math.max(max, r.ws?.max_message ?? WS_PROXY_DEFAULTS.maxMessage);
  }
  return max + ENGINE_MARGIN;
}

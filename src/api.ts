/**
 * The public surface for handler modules in routes/: types and helpers, re-exported. Handlers
 * import from here only (never from uWS, never from other src/ files).
 *
 * ```ts
 * import { type Context, text } from '../src/api.js';
 * export default async function hello(ctx: Context) {
 *   return text('Hello world!');
 * }
 * ```
 */
export { request } from 'undici';
export { type ErrorCode, SwitchyardError } from './errors.js';
export type { Reply, ReplyBody, ReplyHeaders } from './exchange.js';
export type { Counter, Gauge, Shared, SharedTable, TokenBucket, Verdict } from './region/index.js';
export * from './runtime/index.js';
export type { UpstreamHandle } from './services.js';
export type { Context } from './tracks/handler/context.js';
export type { Handler } from './tracks/handler/load.js';
export { bytes, empty, HttpError, html, json, stream, text } from './tracks/handler/reply.js';
export type { WsConnection } from './tracks/websocket/connection.js';
export type { UpgradeResult, WsModule } from './tracks/websocket/module.js';

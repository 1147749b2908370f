/**
 * The proxy track (placeholder: the full implementation — pools per server, balancing, health,
 * retries, streaming — replaces this file).
 */
import type { Config, RouteConfig } from '../config/schema.js';
import { syError } from '../errors.js';
import type { Exchange, Reply } from '../exchange.js';
import type { UpstreamHandle } from '../handlers/context.js';
import type { Logs } from '../observe/log.js';
import type { Params } from '../router/router.js';

export interface UpstreamsOptions {
  logs: Logs;
}

export class Upstreams {
  constructor(_config: Config, _opts: UpstreamsOptions) {}

  /** The track function for a `proxy:` route. */
  route(_route: RouteConfig, _index: number): (ex: Exchange, params: Params) => Promise<Reply> {
    return () => Promise.reject(syError('SY_ERR_UPSTREAM_UNAVAILABLE', 'proxy not implemented'));
  }

  /** An upstream for handlers (routes/first.ts). */
  handle(_name: string): UpstreamHandle | undefined {
    return undefined;
  }

  async close(): Promise<void> {}
}

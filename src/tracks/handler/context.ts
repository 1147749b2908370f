/**
 * The handler context (`ctx`): what a handler in routes/ sees of its request. Built per request,
 * cheap: everything that costs something (query parsing, the header record, the signal, the
 * scope, the child logger) is computed on first use.
 */
import { Buffer } from 'node:buffer';
import type { Logger } from 'pino';
import { syError } from '../../errors.js';
import type { Exchange, RequestBody } from '../../exchange.js';
import type { Shared } from '../../region/index.js';
import type { Params } from '../../router/router.js';
import { openScope, type RequestScope } from '../../runtime/index.js';
import type { TableServices, UpstreamHandle } from '../../services.js';
import { publish } from '../websocket/hub.js';

export type { UpstreamHandle } from '../../services.js';

export interface RouteOptions {
  inline: boolean;
}

export class Context {
  // `declare`d and assigned in the constructor: no field definitions before it (one per request).
  declare readonly method: string;
  /** the normalised path (what the router matched) */
  declare readonly path: string;
  declare readonly params: Params;
  /** the raw query string, without `?` */
  declare readonly rawQuery: string;
  /** absolute deadline (performance.now() timebase), Infinity when the route has no timeout */
  declare readonly deadline: number;
  declare readonly state: Record<string, unknown>;
  declare private readonly ex: Exchange;
  declare private readonly services: TableServices;
  declare private readonly route: RouteOptions;
  declare private _query: URLSearchParams | undefined;
  declare private _headers: Record<string, string> | undefined;
  declare private _log: Logger | undefined;
  declare private _scope: RequestScope | undefined;

  constructor(ex: Exchange, params: Params, services: TableServices, route: RouteOptions) {
    this.method = ex.method;
    this.path = ex.path;
    this.params = params;
    this.rawQuery = ex.query;
    this.deadline = ex.deadline;
    this.state = services.state;
    this.ex = ex;
    this.services = services;
    this.route = route;
    this._query = undefined;
    this._headers = undefined;
    this._log = undefined;
    this._scope = undefined;
  }

  /** The request id (X-Request-Id, or generated). */
  get id(): string {
    return this.ex.id;
  }

  /** The client's address (the TCP peer; see the proxy's trusted_proxies for X-Forwarded-For). */
  get remoteAddress(): string {
    return this.ex.remoteAddress;
  }

  get query(): URLSearchParams {
    return (this._query ??= new URLSearchParams(this.rawQuery));
  }

  /** Request headers by lower-case name; repeated fields joined with ", " (cookies with "; "). */
  get headers(): Readonly<Record<string, string>> {
    if (this._headers === undefined) {
      const out: Record<string, string> = Object.create(null);
      const h = this.ex.headers;
      for (let i = 0; i < h.length; i += 2) {
        const k = h[i]!;
        const prev = out[k];
        out[k] = prev === undefined ? h[i + 1]! : `${prev}${k === 'cookie' ? '; ' : ', '}${h[i + 1]!}`;
      }
      this._headers = out;
    }
    return this._headers;
  }

  header(name: string): string | undefined {
    return this.ex.header(name.toLowerCase());
  }

  /** Aborted when the client goes away, the route's timeout passes, or the server drains. */
  get signal(): AbortSignal {
    return this.ex.signal;
  }

  /** Milliseconds left before the route's deadline (Infinity without one). */
  remaining(): number {
    return this.deadline === Number.POSITIVE_INFINITY
      ? this.deadline
      : Math.max(0, this.deadline - performance.now());
  }

  /**
   * The request's scope: `fork` work that must not outlive the request, `defer` cleanup. The
   * request is not finished (nor logged) until every task forked here has settled.
   */
  get scope(): RequestScope {
    if (this._scope === undefined) {
      this._scope = openScope({
        signal: this.signal,
        deadline: this.deadline === Number.POSITIVE_INFINITY ? undefined : this.deadline,
      });
    }
    return this._scope;
  }

  /** @internal whether `scope` was opened */
  get hasScope(): boolean {
    return this._scope !== undefined;
  }

  /** @internal the pipeline closes the scope (if one was opened) when the handler has returned */
  closeScope(): Promise<void> | undefined {
    return this._scope?.close();
  }

  get log(): Logger {
    return (this._log ??= this.services.logs.error.child({ id: this.id }));
  }

  /** The request body, as chunks (read once). */
  get body(): RequestBody {
    return this.ex.body;
  }

  /** Run a job on the worker pool; aborted (dequeued or its worker terminated) with the request. */
  run<T = unknown>(job: string, input: unknown): Promise<T> {
    const jobs = this.services.jobs;
    if (jobs === undefined)
      return Promise.reject(syError('SY_ERR_UNKNOWN_JOB', `no worker pool for job "${job}"`));
    return jobs.run<T>(job, input, { signal: this.signal, inline: this.route.inline, ex: this.ex });
  }

  /**
   * The structures declared under `shared:` in the config, the same memory in every acceptor
   * thread: `counter(name).add()`, `bucket(name).take()`, `table(name).get/set/update`. Each
   * method's doc says what is atomic (src/region/); see routes/visits.ts.
   */
  get shared(): Shared {
    return this.services.shared;
  }

  /**
   * Send `data` (text for a string) to every WebSocket subscribed to `topic`, on every acceptor
   * thread (src/tracks/websocket/hub.ts). Returns how many subscribers this thread has.
   */
  publish(topic: string, data: string | Uint8Array): number {
    return publish(topic, data);
  }

  /** An upstream from the config, for handlers that talk to it themselves (see routes/first.ts). */
  upstream(name: string): UpstreamHandle {
    const u = this.services.upstreams.handle(name);
    if (u === undefined) throw syError('SY_ERR_UPSTREAM_UNAVAILABLE', `unknown upstream "${name}"`);
    return u;
  }

  /** The whole body as bytes (up to the route's body limit: 413 beyond it). */
  async bytes(): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of this.ex.body) {
      chunks.push(c);
      n += c.length;
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, n);
  }

  async text(): Promise<string> {
    return (await this.bytes()).toString('utf8');
  }

  /** The body parsed as JSON; invalid JSON answers 400. */
  async json<T = unknown>(): Promise<T> {
    const t = await this.text();
    try {
      return JSON.parse(t) as T;
    } catch (err) {
      throw syError('SY_ERR_BAD_BODY', `invalid JSON body: ${(err as Error).message}`, {
        reason: 'request body is not valid JSON',
        cause: err,
      });
    }
  }
}

/**
 * Building a server from a validated config: loggers, handler modules, upstreams, the worker pool,
 * compiled routes, the pipeline, and the listeners. Everything that costs something happens here,
 * once; the request path only reads what this built.
 */
import type { LoadedConfig } from './config/load.js';
import type { Config, RouteConfig } from './config/schema.js';
import type { SwitchyardError } from './errors.js';
import type { Exchange, Reply } from './exchange.js';
import { Context, type RouteOptions, type Services } from './handlers/context.js';
import { redirectTrack, respondTrack } from './handlers/fixed.js';
import { loadHandler } from './handlers/load.js';
import { createLogs, type Logs } from './observe/log.js';
import { type CompiledRoute, Pipeline } from './pipeline.js';
import { JobPool } from './pool/index.js';
import { Upstreams } from './proxy/index.js';
import { Router } from './router/router.js';
import { UwsEngine } from './server/uws/engine.js';

export interface Listening {
  kind: 'http' | 'tcp';
  host: string;
  port: number;
}

export interface TcpListener {
  close(graceMs?: number): Promise<void>;
}

async function compileRoute(
  r: RouteConfig,
  index: number,
  config: Config,
  services: Services,
  upstreams: Upstreams,
  routesDir: string,
): Promise<CompiledRoute> {
  const base = {
    name: r.path,
    bodyLimit: r.body ?? config.limits.body,
    timeout: r.timeout ?? 0,
    maxActive: r.queue ?? 0,
    active: 0,
  };
  if (r.handler !== undefined) {
    const fn = await loadHandler(routesDir, r.handler);
    const opts: RouteOptions = { inline: r.inline ?? false };
    return {
      ...base,
      track: 'handler',
      run(ex, params) {
        const ctx = new Context(ex, params, services, opts);
        let result: Reply | Promise<Reply>;
        try {
          result = fn(ctx);
        } catch (err) {
          result = Promise.reject(err);
        }
        // A synchronous handler that opened no scope answers without a promise on the way.
        if (!(result instanceof Promise) && !ctx.hasScope) return result;
        return settle(ctx, result);
      },
    };
  }
  if (r.proxy !== undefined) return { ...base, track: 'proxy', run: upstreams.route(r, index) };
  if (r.respond !== undefined) return { ...base, track: 'respond', run: respondTrack(r.respond) };
  if (r.redirect !== undefined) return { ...base, track: 'redirect', run: redirectTrack(r.redirect) };
  throw new Error(`routes[${index}]: no track`); // the schema makes this unreachable
}

/** Await the handler, then close its scope (if it opened one): nothing forked outlives the request. */
async function settle(ctx: Context, result: Reply | Promise<Reply>): Promise<Reply> {
  try {
    return await result;
  } finally {
    const closing = ctx.closeScope();
    if (closing !== undefined) await closing;
  }
}

export class Server {
  readonly logs: Logs;
  readonly pipeline: Pipeline;
  readonly listening: Listening[] = [];
  private readonly engine: UwsEngine;
  private readonly upstreams: Upstreams;
  private readonly pool: JobPool;
  private readonly tcp: TcpListener[] = [];
  private readonly loaded: LoadedConfig;

  private constructor(
    loaded: LoadedConfig,
    logs: Logs,
    pipeline: Pipeline,
    engine: UwsEngine,
    upstreams: Upstreams,
    pool: JobPool,
  ) {
    this.loaded = loaded;
    this.logs = logs;
    this.pipeline = pipeline;
    this.engine = engine;
    this.upstreams = upstreams;
    this.pool = pool;
  }

  /** Build everything from a loaded config (no sockets yet). */
  static async build(loaded: LoadedConfig, opts: { logs?: Logs } = {}): Promise<Server> {
    const { config, routesDir } = loaded;
    const logs = opts.logs ?? createLogs(config.log);
    const upstreams = new Upstreams(config, { logs });
    const pool = await JobPool.start(config, routesDir, logs);
    const services: Services = {
      log: logs.error,
      jobs: pool,
      upstream: (name) => upstreams.handle(name),
      state: {},
    };
    const compiled = await Promise.all(
      config.routes.map((r, i) => compileRoute(r, i, config, services, upstreams, routesDir)),
    );
    const router = new Router(
      compiled.map((c, i) => ({
        path: config.routes[i]!.path,
        methods: config.routes[i]!.methods,
        host: config.routes[i]!.host,
        data: c,
      })),
    );
    const pipeline = new Pipeline(router, logs);
    const engine = new UwsEngine({
      limits: {
        headers: config.limits.headers,
        headerBytes: config.limits.header_bytes,
        uri: config.limits.uri,
      },
      eagerAddress: logs.access !== null,
      handle: pipeline.handle,
      onWriteError(ex: Exchange, err: SwitchyardError | Error) {
        logs.error.error(
          { id: ex.id, route: ex.route, code: (err as SwitchyardError).code, err },
          'response not written as asked',
        );
      },
    });
    return new Server(loaded, logs, pipeline, engine, upstreams, pool);
  }

  /** Open every listener from the config. Rejects (after closing what opened) if one fails. */
  async listen(): Promise<Listening[]> {
    for (const l of this.loaded.config.listen) {
      if (l.kind === 'http') {
        const port = await this.engine.listen(l.host, l.port);
        this.listening.push({ kind: 'http', host: l.host, port });
      } else {
        const { listenTcp } = await import('./pool/tcp.js');
        const t = await listenTcp(l, this.pool, this.logs);
        this.tcp.push(t);
        this.listening.push({ kind: 'tcp', host: l.host, port: t.port });
      }
    }
    return this.listening;
  }

  /**
   * Graceful stop: stop accepting at once, let in-flight requests finish for up to `graceMs`,
   * cancel what remains, then release upstreams and the pool.
   */
  async drain(graceMs = this.loaded.config.shutdown.grace): Promise<void> {
    this.engine.stopAccepting();
    await Promise.all([this.pipeline.drain(graceMs), ...this.tcp.map((t) => t.close(graceMs))]);
    await Promise.allSettled([this.upstreams.close(), this.pool.close()]);
    this.logs.flush();
  }
}

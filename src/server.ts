/**
 * The composition root: from a validated config, build the process services (logs, the job
 * pool), the route table, the pipeline, and the listeners. Everything that costs something
 * happens here, once; the request path only reads what this built.
 */
import type { LoadedConfig } from './config/load.js';
import type { ListenConfig } from './config/schema.js';
import type { SwitchyardError } from './errors.js';
import type { Exchange } from './exchange.js';
import { redirectToHttps } from './http/redirect-https.js';
import { createLogs, type Logs } from './observe/log.js';
import { Stats } from './observe/metrics.js';
import { NoRequestTally } from './observe/no-request.js';
import { Readiness } from './observe/probes.js';
import { ServerViews } from './observe/views.js';
import { Pipeline } from './pipeline.js';
import { JobPool } from './pool/index.js';
import { processRegion, tableLayout } from './region/plan.js';
import { SharedRegion } from './region/region.js';
import { RouteTable } from './router/table.js';
import { type Engine, type EngineOptions, ListenError } from './server/engine.js';
import { chooseEngine, type EngineName, engines } from './server/engines.js';
import { listenerKey } from './server/listener-key.js';
import { TlsServed } from './server/tls-served.js';
import type { JobRunner, ProcessServices } from './services.js';
import { threadCount } from './threads/count.js';
import type { Supervisor } from './threads/supervisor.js';
import { loadTls } from './tls/load.js';
import { engineMaxMessage } from './tracks/websocket/limits.js';

export interface Listening {
  kind: 'http' | 'tcp';
  host: string;
  port: number;
  /** an http listener that terminates TLS */
  tls?: boolean;
  /** http listeners: the engine serving it */
  engine?: EngineName;
  /** set when the default engine (uws) cannot load here and node serves instead: why */
  fallback?: string;
}

/** What an acceptor thread is given instead of building it (see Server.build). */
export interface AcceptorParts {
  jobs?: JobRunner;
  shared?: SharedRegion;
  table?: { region: SharedRegion; share: { index: number; of: number } };
  /** listen with SO_REUSEPORT (acceptor threads share the ports) */
  sharedPort?: boolean;
}

export interface TcpListener {
  readonly port: number;
  readonly connections: number;
  close(graceMs?: number): Promise<void>;
}

interface OpenListener {
  listening: Listening;
  tcp: TcpListener | undefined;
  engine: Engine | undefined;
}

/** Rethrow a ListenError said with the listener's config path (`listen[2]: cannot listen on …`). */
function named(where: string): (err: unknown) => never {
  return (err) => {
    if (err instanceof ListenError) err.message = `${where}: ${err.message}`;
    throw err;
  };
}

export class Server {
  readonly logs: Logs;
  readonly pipeline: Pipeline;
  readonly services: ProcessServices;
  readonly listening: Listening[] = [];
  /** every engine, for drain and close: one per tls listener, one per kind of plain listener */
  private readonly engines: Engine[] = [];
  private readonly plain = new Map<string, Engine>();
  /** the first tls listener's bound port: where `redirect_https` listeners send clients */
  private httpsPort = 443;
  private tlsSeen = false;
  /** the job pool (undefined in an acceptor thread: the supervisor's pool runs its jobs) */
  readonly pool: JobPool | undefined;
  /** with `threads` > 1 in the main thread: the acceptor threads serve the http listeners */
  private supervisor: Supervisor | undefined = undefined;
  private readonly parts: AcceptorParts;
  private readonly open = new Map<string, OpenListener>();
  private readonly tlsServed = new TlsServed();
  private readonly closing: Promise<void>[] = [];
  private loaded: LoadedConfig;
  /** the engine's header limits; a reload updates them in place */
  private readonly limits = { headers: 0, headerBytes: 0, uri: 0 };
  /** connections closed without a request, one error-log line per interval (engines that see connections) */
  private readonly noRequest: NoRequestTally | undefined;

  private constructor(
    loaded: LoadedConfig,
    services: ProcessServices,
    pipeline: Pipeline,
    pool: JobPool | undefined,
    parts: AcceptorParts,
  ) {
    this.parts = parts;
    this.loaded = loaded;
    this.logs = services.logs;
    this.services = services;
    this.pipeline = pipeline;
    this.pool = pool;
    const every = loaded.config.log.no_request_interval;
    this.noRequest = every === 'off' ? undefined : new NoRequestTally(this.logs.error, every);
    this.setLimits(loaded);
    (services.views as ServerViews).attach(this);
  }

  /** The config in force (the last one loaded or reloaded). */
  get current(): LoadedConfig {
    return this.loaded;
  }

  /** Where the readiness probe stands. */
  get readiness(): Readiness {
    return this.pipeline.readiness;
  }

  /** Readiness for the whole process: this thread's probe, and every acceptor thread's. */
  setReadiness(state: Readiness['state']): void {
    this.pipeline.readiness.state = state;
    this.supervisor?.setReadiness(state);
  }

  /** Acceptor threads serve the http listeners (the main thread supervises). */
  get threaded(): boolean {
    return this.supervisor !== undefined;
  }

  /** Reload: the new config is in force (the route table is swapped separately). */
  adopt(loaded: LoadedConfig): void {
    this.loaded = loaded;
    this.setLimits(loaded);
  }

  private setLimits(loaded: LoadedConfig): void {
    const l = loaded.config.limits;
    this.limits.headers = l.headers;
    this.limits.headerBytes = l.header_bytes;
    this.limits.uri = l.uri;
  }

  /** The ports of this thread's http listeners (open connections are counted from the kernel's table). */
  httpPorts(): Set<number> {
    const ports = new Set<number>();
    for (const o of this.open.values()) if (o.tcp === undefined) ports.add(o.listening.port);
    if (this.supervisor !== undefined) for (const l of this.supervisor.listening) ports.add(l.port);
    return ports;
  }

  tcpConnections(): number {
    let n = 0;
    for (const o of this.open.values()) if (o.tcp !== undefined) n += o.tcp.connections;
    return n;
  }

  /** The route-table options for `loaded`: with acceptor threads, a region they share. */
  tableOptions(
    loaded: LoadedConfig,
  ): { region: SharedRegion; share: { index: number; of: number } } | undefined {
    // The acceptors running now (a reload does not change their number: `threads:` takes a restart).
    const threads = this.supervisor?.threads ?? 1;
    if (threads <= 1) return undefined;
    return { region: SharedRegion.create(tableLayout(loaded.config, threads)), share: { index: 0, of: 1 } };
  }

  /**
   * Build everything from a loaded config (no sockets yet). An acceptor thread passes what the
   * supervisor owns (src/threads/acceptor.ts): `jobs` (the one pool, over a port), `shared` (the
   * process region), `table` (the route table's shared region and this thread's share).
   */
  static async build(loaded: LoadedConfig, opts: AcceptorParts & { logs?: Logs } = {}): Promise<Server> {
    const { config, routesDir } = loaded;
    const logs = opts.logs ?? createLogs(config.log);
    const pool = opts.jobs === undefined ? await JobPool.start(config, routesDir, logs) : undefined;
    const shared = opts.shared ?? processRegion(loaded.config, loaded.file);
    const services: ProcessServices = {
      logs,
      jobs: opts.jobs ?? pool,
      state: {},
      shared,
      stats: new Stats(),
      views: new ServerViews(),
    };
    // The supervisor's own table (reload checks, metrics) uses the region it hands the acceptors.
    const threads = opts.jobs === undefined ? threadCount(config) : 1;
    const table0 =
      opts.table ??
      (threads > 1
        ? { region: SharedRegion.create(tableLayout(config, threads)), share: { index: 0, of: 1 } }
        : undefined);
    let table: RouteTable;
    try {
      table = await RouteTable.compile(loaded, services, table0);
    } catch (err) {
      await pool?.close();
      throw err;
    }
    return new Server(loaded, services, new Pipeline(table, logs, new Readiness()), pool, opts);
  }

  private engineOptions(chunkedRequests: EngineOptions['chunkedRequests']): EngineOptions {
    const { limits } = this.loaded.config;
    const logs = this.logs;
    return {
      limits: this.limits,
      timeouts: {
        header: limits.header_timeout,
        keepAlive: limits.keepalive_timeout,
        request: limits.request_timeout,
        send: limits.send_timeout,
      },
      eagerAddress: logs.access !== null,
      chunkedRequests,
      handle: this.pipeline.handle,
      websocket: this.pipeline.websocket,
      websocketMaxMessage: engineMaxMessage(this.loaded.config.routes),
      sharedPort: this.parts.sharedPort === true,
      onNoRequest: this.noRequest?.count,
      onWriteError(ex: Exchange, err: SwitchyardError | Error) {
        logs.error.error(
          { id: ex.id, route: ex.route, code: (err as SwitchyardError).code, err },
          'response not written as asked',
        );
      },
    };
  }

  private async engineFor(l: ListenConfig, name: EngineName): Promise<Engine> {
    const chunked = l.chunked_requests ?? 'refuse';
    const base = { ...this.engineOptions(chunked), proxyProtocol: this.proxyOptions(l, name) };
    if (l.tls !== undefined) {
      // Read again here (not the copy `check` saw): a start or reload serves what is on disk now.
      const tls = loadTls(l.tls);
      const engine = await engines[name]({ ...base, tls });
      this.tlsServed.serving(engine, tls);
      this.engines.push(engine);
      return engine;
    }
    // One engine per kind of plain listener: a request cannot tell which socket it came through.
    const key = `${name}:${chunked}:${base.proxyProtocol?.versions ?? ''}:${l.redirect_https === true}`;
    let engine = this.plain.get(key);
    if (engine === undefined) {
      const handle =
        l.redirect_https === true ? redirectToHttps(() => this.httpsPort, this.logs) : base.handle;
      engine = await engines[name]({ ...base, handle });
      this.plain.set(key, engine);
      this.engines.push(engine);
    }
    return engine;
  }

  /**
   * A `proxy_protocol` listener's engine options: the header is believed from `trusted_proxies`
   * as the table in force has them. uWS parses v2 itself (v1 is a config error there).
   */
  private proxyOptions(l: ListenConfig, name: EngineName): EngineOptions['proxyProtocol'] {
    if (!l.proxy_protocol) return undefined;
    const pipeline = this.pipeline;
    const versions = l.proxy_protocol === true ? (name === 'uws' ? 'v2' : 'any') : l.proxy_protocol;
    return { trusted: (peer) => pipeline.routes.services.upstreams.trust.trusted(peer), versions };
  }

  /** Open every listener from the config. Rejects (the caller drains what opened) if one fails. */
  async listen(): Promise<Listening[]> {
    const threads = this.pool === undefined ? 1 : threadCount(this.loaded.config);
    if (threads > 1) {
      const { Supervisor } = await import('./threads/supervisor.js');
      this.supervisor = await Supervisor.start(this.loaded, {
        threads,
        logs: this.logs,
        pool: this.pool!,
        shared: this.services.shared as SharedRegion,
        table: this.pipeline.routes.services.region,
      });
      for (const l of this.supervisor.listening) this.listening.push({ kind: 'http', ...l });
      // One view of the process: scrapes on any thread are answered here from every thread's records.
      const sup = this.supervisor;
      const views = this.services.views as ServerViews;
      views.gatherFrom(() => sup.collect());
      sup.scrape.render = (kind) => (kind === 'metrics' ? views.metrics() : views.status());
    }
    for (const [i, l] of this.loaded.config.listen.entries()) {
      if (l.kind === 'http' && threads > 1) continue;
      if (l.kind === 'tcp' && this.pool === undefined) continue; // acceptor threads: the supervisor serves tcp listeners
      await this.openListener(l, `listen[${i}]`);
    }
    if (this.pipeline.readiness.state === 'starting') this.pipeline.readiness.state = 'ready';
    return this.listening;
  }

  /** Open one listener (start-up, or a reload that added it); a failure names it (`listen[2]: …`). */
  async openListener(
    l: ListenConfig,
    where: string,
    jobs?: ReadonlyMap<string, unknown>,
  ): Promise<Listening> {
    let listening: Listening;
    let tcp: TcpListener | undefined;
    let engine: Engine | undefined;
    if (l.kind === 'http') {
      const choice = await chooseEngine(l.engine, where);
      engine = await this.engineFor(l, choice.name);
      const port = await engine.listen(l.host, l.port, { h2c: l.h2c }).catch(named(where));
      if (l.tls !== undefined && !this.tlsSeen) {
        this.tlsSeen = true;
        this.httpsPort = port;
      }
      listening = {
        kind: 'http',
        host: l.host,
        port,
        ...(l.tls === undefined ? {} : { tls: true }),
        engine: choice.name,
        fallback: choice.fallback,
      };
    } else {
      const { listenTcp } = await import('./pool/tcp.js');
      tcp = await listenTcp(l, this.pool!, this.logs, jobs).catch(named(where));
      listening = { kind: 'tcp', host: l.host, port: tcp.port };
    }
    this.open.set(listenerKey(l), { listening, tcp, engine });
    this.listening.push(listening);
    return listening;
  }

  /** Certificates on a reload: every kept TLS listener serves what its files hold now. */
  reloadTls(loaded: LoadedConfig): Promise<void> {
    return this.tlsServed.reload(loaded.config.listen, (l) => this.open.get(listenerKey(l))?.engine);
  }

  /** The keys of the listeners this thread has open (see `listenerKey`). */
  listenerKeys(): string[] {
    return [...this.open.keys()];
  }

  /**
   * Close one listener (a reload removed it): stop accepting at once; a TCP listener lets its
   * connections' jobs finish (up to the grace); HTTP requests in flight on its connections finish.
   * Returns false when the engine cannot close a single listener (it stays open until restart).
   */
  closeListener(key: string): Listening | false {
    const o = this.open.get(key);
    if (o === undefined) return false;
    if (o.tcp !== undefined) {
      this.closing.push(o.tcp.close(this.loaded.config.shutdown.grace));
    } else if (o.engine?.unlisten?.(o.listening.host, o.listening.port) !== true) {
      return false;
    }
    this.open.delete(key);
    const i = this.listening.indexOf(o.listening);
    if (i !== -1) this.listening.splice(i, 1);
    return o.listening;
  }

  /**
   * With acceptor threads: route every acceptor with `loaded` (a reload; listeners unchanged).
   * Each compiles its own table beside the old and swaps; resolves with their errors ([] = all
   * done). Without threads: nothing to do (the caller swaps this pipeline's table itself).
   */
  async reloadThreads(loaded: LoadedConfig, region?: SharedRegion): Promise<string[]> {
    const sup = this.supervisor;
    if (sup === undefined) return [];
    return sup.reload(loaded, region ?? SharedRegion.create(tableLayout(loaded.config, sup.threads)));
  }

  /** Close every listener and connection now (an acceptor thread that must end at once). */
  closeNow(): void {
    this.noRequest?.stop();
    for (const e of this.engines) e.close?.();
  }

  /**
   * Graceful stop: stop accepting at once, let in-flight requests finish for up to `graceMs`,
   * cancel what remains, then release the route table's upstreams and the pool.
   */
  async drain(graceMs = this.loaded.config.shutdown.grace): Promise<void> {
    this.noRequest?.stop();
    this.setReadiness('draining');
    for (const e of this.engines) e.stopAccepting();
    const tcp = [...this.open.values()].flatMap((o) => (o.tcp === undefined ? [] : [o.tcp.close(graceMs)]));
    await Promise.all([
      this.pipeline.drain(graceMs),
      this.supervisor?.drain(graceMs),
      ...tcp,
      ...this.closing,
    ]);
    await Promise.allSettled([this.pipeline.routes.close(), this.pool?.close()]);
    for (const e of this.engines) e.close?.(); // idle keep-alive connections (an acceptor thread must end with none)
    this.logs.flush();
  }
}

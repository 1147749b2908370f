/**
 * Reload (SIGHUP, `switchyard reload`), as nginx does it, without dropping a request:
 *
 * 1. re-read and check the config file; any problem → log every one with its path, keep serving
 *    the running config, change nothing;
 * 2. prepare the new generation beside the old: the job set (a changed job module means a new
 *    piscina pool), the route table (handler modules changed on disk are imported fresh, see
 *    src/module-url.ts; new upstream pools), and the listeners the new config adds (opened now,
 *    so a port that cannot be bound fails the reload before anything is switched);
 * 3. switch: `pipeline.use(table)` — the next request, on a new or a kept-alive connection, is
 *    routed by the new table; requests in flight finish on the route they matched;
 * 4. retire the old: its table closes its upstream pools once its last request has finished, the
 *    old piscina pool is destroyed once its last job has, removed listeners stop accepting.
 *
 * Reloads are serialised: a HUP that arrives during a reload runs one more after it.
 *
 * What a reload applies: routes, upstreams, trusted_proxies, probes, limits, shutdown, pool (a new
 * pool when jobs or threads change), log.level, listeners (added/removed), pid. What needs a
 * restart: log.access / log.error destinations, `threads` and `shared` (each logged as a warning
 * when it changes).
 */
import { loadChecked } from '../check.js';
import { ConfigError, type LoadedConfig } from '../config/load.js';
import type { ListenConfig } from '../config/schema.js';
import type { PoolChange } from '../pool/index.js';
import { RouteTable } from '../router/table.js';
import { listenerAddress, listenerKey } from '../server/listener-key.js';
import type { Listening, Server } from '../server.js';
import { threadCount } from '../threads/count.js';
import { PidFile, pidPath as resolvePid } from './pidfile.js';

/** Keys only a restart changes. */
const RESTART_ONLY = ['access', 'error'] as const;

export class Reloader {
  private readonly server: Server;
  private generation = 0;
  private running: Promise<boolean> | undefined = undefined;
  private queued: Promise<boolean> | undefined = undefined;
  /** the pid file in force (a reload may move it) */
  pid: PidFile | undefined;

  /** what the process started with and keeps until a restart: acceptor threads, the `shared:` region */
  private readonly fixed: { threads: number; shared: string };

  constructor(server: Server, pid: PidFile | undefined) {
    this.server = server;
    this.pid = pid;
    const c = server.current.config;
    this.fixed = { threads: threadCount(c), shared: JSON.stringify(c.shared) };
  }

  /** Reload from the config file in force. Resolves true when the new config serves requests. */
  reload(): Promise<boolean> {
    if (this.running === undefined) {
      this.running = this.once().finally(() => {
        this.running = undefined;
      });
      return this.running;
    }
    // One more after the running one (several HUPs during a reload collapse into one).
    this.queued ??= this.running.then(() => {
      this.queued = undefined;
      return this.reload();
    });
    return this.queued;
  }

  private async once(): Promise<boolean> {
    const server = this.server;
    const log = server.logs.error;
    const file = server.current.file;
    const gen = this.generation + 1;
    log.info({ file, generation: gen }, 'reload: reading the configuration');
    let loaded: LoadedConfig;
    try {
      loaded = await loadChecked(file); // as `switchyard check`: modules imported too
    } catch (err) {
      const problems = err instanceof ConfigError ? err.problems : [(err as Error).message];
      for (const problem of problems) log.error({ file, problem }, `reload: ${problem}`);
      log.error(
        { file, problems: problems.length },
        `reload refused: ${problems.length} configuration problem${problems.length === 1 ? '' : 's'}; still serving the previous configuration`,
      );
      return false;
    }
    /** `what`: the part refused; omitted when the error names it (a listener's: `listen[2]: …`) */
    const failed = (what: string | undefined, err: unknown) => {
      // an operator's mistake (a port in use, a change that needs a restart): the message says it
      // all; the stack is for us, at debug level
      const e = err instanceof Error ? err : new Error(String(err));
      log.error(
        { file, error: { type: e.name, message: e.message, code: (e as { code?: unknown }).code } },
        `reload refused: ${what === undefined ? '' : `${what}: `}${e.message}; still serving the previous configuration`,
      );
      log.debug({ file, err: e }, 'reload refused: the error with its stack');
      return false;
    };

    const pool = server.pool!; // reload runs where the pool lives: the main thread
    let change: PoolChange;
    try {
      change = await pool.prepare(loaded.config, loaded.routesDir);
    } catch (err) {
      return failed('job modules', err);
    }
    const tableOpts = server.tableOptions(loaded);
    let table: RouteTable;
    try {
      table = await RouteTable.compile(loaded, server.services, tableOpts);
    } catch (err) {
      return failed('routes', err);
    }
    // With acceptor threads the http listeners are theirs (opened at start): only tcp ones change here.
    const mine = (l: ListenConfig) => !server.threaded || l.kind === 'tcp';
    const wanted = new Map(loaded.config.listen.filter(mine).map((l) => [listenerKey(l), l]));
    const have = new Set(server.listenerKeys());
    if (server.threaded) {
      const httpKeys = (ls: ListenConfig[]) =>
        ls
          .filter((l) => l.kind === 'http')
          .map(listenerKey)
          .sort()
          .join();
      if (httpKeys(loaded.config.listen) !== httpKeys(server.current.config.listen))
        log.warn({ file }, 'reload: with acceptor threads, http listener changes take effect on restart');
    }
    const opened: { key: string; listening: Listening }[] = [];
    const unopen = () => {
      for (const o of opened) server.closeListener(o.key);
    };
    const addressOf = new Map(server.current.config.listen.map((l) => [listenerKey(l), listenerAddress(l)]));
    for (const [key, l] of wanted) {
      if (have.has(key)) continue;
      const where = `listen[${loaded.config.listen.indexOf(l)}]`;
      const replaced = [...have].find((k) => !wanted.has(k) && addressOf.get(k) === listenerAddress(l));
      if (replaced !== undefined) {
        unopen();
        await table.close();
        const wasTcp = server.current.config.listen.some(
          (o) => listenerKey(o) === replaced && o.kind === 'tcp',
        );
        return failed(
          `${where} (${l.host}:${l.port})`,
          new Error(
            l.kind === 'tcp' || wasTcp
              ? 'changing the kind of a listener, or the job, idle or max_connections of a tcp listener, takes a restart'
              : 'changing engine, h2c, tls on/off, redirect_https, proxy_protocol or chunked_requests of a listener takes a restart',
          ),
        );
      }
      try {
        opened.push({ key, listening: await server.openListener(l, where, change.jobs) });
      } catch (err) {
        unopen();
        await table.close();
        return failed(undefined, err); // openListener names it: `listen[2]: cannot listen on …`
      }
    }
    let pid = this.pid;
    const pidPath = loaded.config.pid === undefined ? undefined : resolvePid(loaded.file, loaded.config.pid);
    if (pidPath !== undefined && (pid === undefined || pid.path !== pidPath)) {
      try {
        pid = PidFile.claim(pidPath);
      } catch (err) {
        unopen();
        await table.close();
        return failed('pid', err);
      }
    }

    // Certificates: kept TLS listeners serve what is on disk now (test/ops/tls-reload.test.ts).
    try {
      await server.reloadTls(loaded);
    } catch (err) {
      unopen();
      await table.close();
      return failed('tls', err);
    }
    // Acceptor threads: each compiles its own table from `loaded` and swaps it (their listeners
    // stay); the main thread's table below is the one the metrics and reload checks read.
    const threadErrors = await server.reloadThreads(loaded, tableOpts?.region);
    for (const e of threadErrors)
      log.error({ file, err: e }, `reload: an acceptor thread kept its configuration: ${e}`);

    // Switch. Nothing below can fail the reload.
    const before = server.current.config;
    pool.commit(change);
    server.adopt(loaded);
    server.logs.error.level = loaded.config.log.level;
    const old = server.pipeline.use(table);
    void old
      .retire()
      .catch((err: unknown) => log.warn({ err }, 'reload: closing the old upstream pools failed'));
    for (const key of have) {
      if (wanted.has(key)) continue;
      const l = server.closeListener(key);
      if (l === false) log.warn({ listener: key }, `reload: listener ${key} stays open until restart`);
      else
        log.info({ listen: `${l.host}:${l.port}`, kind: l.kind }, `stopped listening on ${l.host}:${l.port}`);
    }
    for (const { listening: l } of opened) {
      log.info({ listen: `${l.host}:${l.port}`, kind: l.kind }, `listening on ${l.host}:${l.port}`);
    }
    if (pid !== this.pid) this.pid?.release();
    else if (pidPath === undefined) {
      this.pid?.release();
      pid = undefined;
    }
    this.pid = pid;
    for (const k of RESTART_ONLY) {
      if (before.log[k] !== loaded.config.log[k]) {
        log.warn(
          { key: `log.${k}` },
          `reload: log.${k} changed; the new destination takes effect on restart`,
        );
      }
    }
    if (threadCount(loaded.config) !== this.fixed.threads)
      log.warn(
        { key: 'threads', running: this.fixed.threads },
        `reload: threads changed; still ${this.fixed.threads} (the number of acceptor threads changes on restart)`,
      );
    if (JSON.stringify(loaded.config.shared) !== this.fixed.shared)
      log.warn(
        { key: 'shared' },
        'reload: shared changed; handlers keep the structures the process started with until restart',
      );
    this.generation = gen;
    log.info(
      { file, generation: gen, routes: loaded.config.routes.length, pool_restarted: change.restart },
      `reloaded (generation ${gen})`,
    );
    return true;
  }
}

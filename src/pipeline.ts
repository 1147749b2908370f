/**
 * The request path, in one place: checks → normalise → route → limits and deadline → track →
 * reply → access log. `handle` runs synchronously inside the engine's callback up to the track;
 * everything after is the track's promise. Routes are compiled into a RouteTable beforehand
 * (src/router/table.ts); here they are only read. `use(table)` swaps the table: requests already
 * routed finish on the route they matched.
 */
import { performance } from 'node:perf_hooks';
import { asSwitchyardError, errorReply, type SwitchyardError, syError } from './errors.js';
import { type Exchange, Later, Phase, type Reply, type ReplySink } from './exchange.js';
import { RESOLVED } from './http/engine-exchange.js';
import type { WsRun, WsSocket } from './http/websocket.js';
import { InFlight } from './inflight.js';
import { type Logs, logAccess, loggedStatus } from './observe/log.js';
import type { RouteStats } from './observe/metrics.js';
import { type ProbeKind, probeReply, Readiness } from './observe/probes.js';
import { upgradeRun, type WsHost } from './pipeline-ws.js';
import { normalizePath } from './router/normalize.js';
import type { CompiledRoute, RouteTable } from './router/table.js';

/**
 * Failures of the environment rather than of our code or a handler (an upstream down, a full
 * queue): the access log's `err` records each; the proxy and pool log state changes once (a server
 * marked down). An error line with a stack per request would flood the log during an outage.
 */
function operational(code: string): boolean {
  return code.startsWith('SY_ERR_UPSTREAM_') || code === 'SY_ERR_POOL_FULL';
}

function wantsJson(ex: Exchange): boolean {
  return ex.header('accept')?.includes('json') === true;
}

function onTimeout(ex: Exchange): void {
  const err = syError('SY_ERR_TIMEOUT');
  ex.errorCode ??= err.code;
  ex.cancel(err);
  if (ex.phase === Phase.Open) void ex.send(errorReply(err, wantsJson(ex)));
  else if (ex.phase === Phase.Streaming) ex.close();
}

export class Pipeline {
  private table: RouteTable;
  private readonly logs: Logs;
  /** requests not yet finished (for drain) */
  readonly inflight = new InFlight();
  draining = false;
  private idle: (() => void) | undefined = undefined;

  /** what the readiness probe reports (the server moves it: starting → ready → draining) */
  readonly readiness: Readiness;

  constructor(table: RouteTable, logs: Logs, readiness = new Readiness()) {
    this.table = table;
    this.logs = logs;
    this.readiness = readiness;
  }

  /** The table new requests are routed with. */
  get routes(): RouteTable {
    return this.table;
  }

  /** Route new requests with `table`; returns the table it replaces (retire it when done with it). */
  use(table: RouteTable): RouteTable {
    const old = this.table;
    this.table = table;
    return old;
  }

  /**
   * An upgrade request (`Upgrade: websocket`), called by the engine synchronously: the work to run
   * before the handshake when its route takes WebSockets, else undefined (the engine then serves
   * it through `handle` as an ordinary request).
   */
  websocket = (ex: Exchange): WsRun | undefined => {
    if (ex.problem !== undefined) return undefined;
    const path = normalizePath(ex.rawPath);
    if (path === null) return undefined;
    const m = this.table.router.match(ex.method, ex.host, path);
    if (m.kind !== 'found' || m.data.websocket === undefined) return undefined;
    const route = m.data;
    ex.path = path;
    ex.route = route.name;
    ex.track = route.track;
    this.inflight.add(ex);
    return upgradeRun(this.wsHost, ex, route, m.params);
  };

  /** open WebSockets (drain closes them with 1001) */
  private readonly sockets = new Set<WsSocket>();
  private readonly wsHost: WsHost = {
    isDraining: () => this.draining,
    sockets: this.sockets,
    release: (route) => this.release(route),
    finish: (ex, stats) => this.finish(ex, stats),
    fail: (ex, thrown) => this.fail(ex, thrown),
    wantsJson,
  };

  /** Called by the engine, synchronously, for every request. */
  handle = (ex: Exchange): void => {
    this.inflight.add(ex);
    if (this.draining) ex.closeAfter = true;
    if (ex.problem !== undefined) return this.refuse(ex, ex.problem);
    const path = normalizePath(ex.rawPath);
    if (path === null)
      return this.refuse(ex, syError('SY_ERR_BAD_PATH', `path "${ex.rawPath.slice(0, 200)}"`));
    ex.path = path;
    const table = this.table;
    if (table.probes !== null) {
      const probe = table.probes.get(path);
      if (probe !== undefined) return this.probe(ex, probe);
    }

    const m = table.router.match(ex.method, ex.host, path);
    if (m.kind !== 'found') {
      if (m.kind === 'none') return this.refuse(ex, syError('SY_ERR_NOT_FOUND'));
      const err = syError('SY_ERR_METHOD_NOT_ALLOWED');
      err.headers = { allow: m.allow };
      return this.refuse(ex, err);
    }
    const route = m.data;
    ex.route = route.name;
    ex.track = route.track;
    const body = ex.body;
    if (body.declared > route.bodyLimit) {
      return this.refuse(
        ex,
        syError('SY_ERR_BODY_TOO_LARGE', `Content-Length ${body.declared} over ${route.bodyLimit}`),
        route.stats,
      );
    }
    if (body.declared !== 0) body.limit = route.bodyLimit; // the shared empty body ignores it
    // The cap is process-wide: the in-flight count lives in shared memory (src/region/cap.ts).
    if (route.queue !== null && !route.queue.tryAcquire(route.maxActive)) {
      const err = syError('SY_ERR_UPSTREAM_QUEUE_FULL', `route ${route.name}: ${route.maxActive} in flight`);
      err.headers = { 'retry-after': '1' };
      return this.refuse(ex, err, route.stats);
    }
    route.active++;
    let timer: NodeJS.Timeout | undefined;
    if (route.timeout > 0) {
      ex.deadline = ex.startTime + route.timeout;
      timer = setTimeout(onTimeout, route.timeout, ex);
    }
    let result: Reply | Promise<Reply> | Later;
    try {
      result = route.run(ex, m.params);
    } catch (err) {
      result = Promise.reject(err);
    }
    if (!(result instanceof Promise) && !(result instanceof Later) && timer === undefined) {
      // Synchronous reply (respond, redirect): no promise on the way unless the body streams.
      const sent = ex.send(result);
      this.release(route);
      if (ex.phase === Phase.Open || ex.phase === Phase.Streaming)
        void sent.then(() => this.finish(ex, route.stats));
      else this.finish(ex, route.stats);
      return;
    }
    // Every other answer ends through one Completion: a Later hands the reply to it, a promise
    // settles it, a synchronous reply under a timeout goes to it at once.
    const c = new Completion(this, ex, route, timer);
    if (result instanceof Later) {
      try {
        result.attach(c);
      } catch (err) {
        c.error(err); // a throw before the reply was handed over: answered, and the books closed
      }
    } else if (result instanceof Promise) {
      result.then(
        (reply) => c.reply(reply),
        (err: unknown) => c.error(err),
      );
    } else c.reply(result);
  };

  release(route: CompiledRoute): void {
    route.active--;
    route.queue?.release();
    if (route.table !== this.table) route.table.finished();
  }

  /** A track failed. Before the status line: a proper error reply; after: close the connection. */
  fail(ex: Exchange, thrown: unknown): Promise<void> | undefined {
    // A request cancelled by the client, its deadline or the drain: that reason is the outcome.
    const err = ex.cancelReason ?? asSwitchyardError(thrown);
    ex.errorCode ??= err.code;
    if (ex.cancelReason === undefined && err.status >= 500 && !operational(err.code)) {
      this.logs.error.error({ id: ex.id, route: ex.route, code: err.code, err: thrown }, 'request failed');
    }
    if (ex.phase === Phase.Open) return ex.send(errorReply(err, wantsJson(ex)));
    if (ex.phase === Phase.Streaming) ex.close();
    return undefined;
  }

  /** Answer a request that never reaches a track (bad request, 404, 405, 413 …). */
  private refuse(ex: Exchange, err: SwitchyardError, stats = this.table.unmatched): void {
    ex.errorCode = err.code;
    // Malformed requests and unread bodies: close, so the next bytes are never read as a request.
    if (err.status !== 404 && err.status !== 405) ex.closeAfter = true;
    else if (ex.body.declared !== 0) ex.closeAfter = true;
    const sent = ex.send(errorReply(err, wantsJson(ex)));
    // A closing answer is written a loop turn later (or never, when uWS closes first): the access
    // line waits for that outcome, so it states only a status that was written.
    if (ex.phase === Phase.Open) void sent.then(() => this.finish(ex, stats));
    else this.finish(ex, stats);
  }

  /** Readiness or liveness (src/observe/probes.ts): a fixed reply, before routing. */
  private probe(ex: Exchange, kind: ProbeKind): void {
    ex.route = kind;
    ex.track = 'probe';
    void ex.send(probeReply(kind, ex.method, this.readiness));
    this.finish(ex, this.table.probeStats);
  }

  finish(ex: Exchange, stats: RouteStats | null): void {
    if (ex.cancelReason !== undefined) ex.errorCode ??= ex.cancelReason.code;
    stats?.record(loggedStatus(ex), (performance.now() - ex.startTime) / 1000);
    if (this.logs.access !== null) logAccess(this.logs.access, ex, this.table.clientOf);
    this.inflight.delete(ex);
    this.idle?.();
  }

  /**
   * The process exits now (a second stop signal): each request still in flight gets its access
   * line — cut by the server, with the status it had written (0 when none) — rather than none.
   */
  abandon(): void {
    for (const ex of [...this.inflight]) {
      ex.closedBy ??= 'server';
      ex.errorCode ??= 'SY_ERR_SHUTTING_DOWN';
      this.finish(ex, null);
    }
  }

  /**
   * Drain: let in-flight requests finish for up to `graceMs` (their responses say `Connection:
   * close`, as every later one does), then cancel what remains (503 if
   * nothing was sent yet, else close) and give them a moment to unwind. Resolves when none is left
   * or after that moment.
   */
  async drain(graceMs: number): Promise<void> {
    this.draining = true;
    const end = performance.now() + graceMs;
    // Requests already in flight close their connection too: their head is not written yet (or
    // it is too late anyway). Test: drain-close.test.ts.
    for (const ex of this.inflight) ex.closeAfter = true;
    const until = (done: () => boolean, ms: number) =>
      new Promise<boolean>((resolve) => {
        if (done()) return resolve(true);
        const t = setTimeout(() => {
          this.idle = undefined;
          resolve(false);
        }, ms);
        this.idle = () => {
          if (!done()) return;
          clearTimeout(t);
          this.idle = undefined;
          resolve(true);
        };
      });
    // HTTP work first (a request may still publish to the WebSockets), then the WebSockets: 1001,
    // each one counted until its close has settled (test/websocket/operations.test.ts "drain").
    const httpDone = await until(() => this.inflight.size <= this.sockets.size, graceMs);
    if (httpDone) {
      for (const s of this.sockets) s.close(1001, 'server shutting down');
      if (await until(() => this.inflight.size === 0, Math.max(0, end - performance.now()))) return;
    }
    const err = syError('SY_ERR_SHUTTING_DOWN', `drain grace of ${graceMs} ms passed`);
    for (const s of this.sockets) s.terminate();
    for (const ex of this.inflight) {
      ex.cancel(err);
      ex.closeAfter = true;
      if (ex.phase === Phase.Open) void ex.send(errorReply(err, false));
      else if (ex.phase === Phase.Streaming) ex.close();
    }
    await until(() => this.inflight.size === 0, 1000);
  }
}

/**
 * The end of a request whose reply is not written in the engine's callback: write the reply (or
 * the error), then, once it is written, close the books (timer, route counts, metrics, access log).
 */
class Completion implements ReplySink {
  constructor(
    private readonly p: Pipeline,
    private readonly ex: Exchange,
    private readonly route: CompiledRoute,
    private readonly timer: NodeJS.Timeout | undefined,
  ) {}

  reply(r: Reply): void {
    let sent: Promise<void>;
    try {
      sent = this.ex.send(r);
    } catch (err) {
      this.error(err);
      return;
    }
    if (sent !== RESOLVED) void sent.then(() => this.done());
    else this.done();
  }

  error(e: unknown): void {
    const f = this.p.fail(this.ex, e);
    if (f !== undefined) void f.then(() => this.done());
    else this.done();
  }

  private done(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.p.release(this.route);
    this.p.finish(this.ex, this.route.stats);
  }
}

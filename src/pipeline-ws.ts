/**
 * WebSocket upgrades inside the operations model (Pipeline.websocket), the same for every engine:
 *
 * - Before the handshake: a draining server refuses with 503 (`SY_ERR_SHUTTING_DOWN`), a route at
 *   its `queue:` cap with 503 + Retry-After (an open WebSocket holds its slot until it closes, like
 *   nginx's limit_conn), a route over its `rate:` with 429 (the table wraps the upgrade: one token
 *   per upgrade). Refusals, errors and a track's own Reply (401, 502…) are answered here as plain
 *   HTTP and logged like any request; the engine only completes accepted handshakes.
 * - An accepted connection is counted (messages and payload bytes each way) and is one access-log
 *   line when it closes: status 101, `ms` for the whole connection, `bytes_in`/`bytes_out`
 *   (message payloads), `messages_in`/`messages_out`, `close_code`, `closed_by`. The route's
 *   metrics count the handshake (101 and its time) when it completes, not the connection's life.
 * - It stays in the pipeline's in-flight set until its session has closed (a websocket route's
 *   `close` and its scope settled), so drain waits for it (Pipeline.drain sends 1001).
 * Tests: test/websocket/operations.test.ts.
 */
import { errorReply, syError } from './errors.js';
import type { Exchange } from './exchange.js';
import { isAccept, type WsAccept, type WsRun, type WsSession, type WsSocket } from './http/websocket.js';
import type { RouteStats } from './observe/metrics.js';
import type { Params } from './router/router.js';
import type { CompiledRoute } from './router/table.js';

/** What the pipeline lends the upgrade path. */
export interface WsHost {
  isDraining(): boolean;
  /** open WebSockets, for drain */
  readonly sockets: Set<WsSocket>;
  release(route: CompiledRoute): void;
  /** write the access line (and the route's metrics unless `stats` is null); leave the in-flight set */
  finish(ex: Exchange, stats: RouteStats | null): void;
  /** answer a failure before the handshake as the HTTP path does */
  fail(ex: Exchange, thrown: unknown): Promise<void> | undefined;
  wantsJson(ex: Exchange): boolean;
}

/** The pre-handshake work for one upgrade request on `route` (already routed, in flight). */
export function upgradeRun(host: WsHost, ex: Exchange, route: CompiledRoute, params: Params): WsRun {
  return async () => {
    const refuse = async (code: 'SY_ERR_SHUTTING_DOWN' | 'SY_ERR_UPSTREAM_QUEUE_FULL', why: string) => {
      const err = syError(code, why);
      err.headers = { 'retry-after': '1' };
      ex.errorCode = err.code;
      ex.closeAfter = true;
      await ex.send(errorReply(err, host.wantsJson(ex)));
      host.finish(ex, route.stats);
      return undefined;
    };
    if (host.isDraining()) return refuse('SY_ERR_SHUTTING_DOWN', 'no new WebSockets while draining');
    if (route.queue !== null && !route.queue.tryAcquire(route.maxActive))
      return refuse('SY_ERR_UPSTREAM_QUEUE_FULL', `route ${route.name}: ${route.maxActive} in flight`);
    route.active++;
    let result: WsAccept | undefined;
    try {
      const r = await route.websocket!(ex, params);
      if (isAccept(r)) result = r;
      else await ex.send(r);
    } catch (err) {
      await host.fail(ex, err);
    }
    if (result !== undefined) return observed(host, ex, route, result);
    host.release(route);
    host.finish(ex, route.stats);
    return undefined;
  };
}

function size(data: Uint8Array | string): number {
  return typeof data === 'string' ? Buffer.byteLength(data) : data.byteLength;
}

/** `accept`, counted, logged at close, known to drain. */
function observed(host: WsHost, ex: Exchange, route: CompiledRoute, accept: WsAccept): WsAccept {
  const done = (stats: RouteStats | null) => {
    host.release(route);
    host.finish(ex, stats);
  };
  return {
    kind: 'websocket',
    protocol: accept.protocol,
    limits: accept.limits,
    abandon() {
      accept.abandon();
      ex.errorCode ??= 'SY_ERR_CLIENT_GONE';
      done(route.stats);
    },
    open(socket: WsSocket): WsSession {
      ex.status = 101;
      route.stats.record(101, (performance.now() - ex.startTime) / 1000);
      let messagesIn = 0;
      let messagesOut = 0;
      let bytesIn = 0;
      let bytesOut = 0;
      const counted: WsSocket = {
        send(data, binary) {
          messagesOut++;
          bytesOut += size(data);
          return socket.send(data, binary);
        },
        buffered: () => socket.buffered(),
        close: (code, reason) => socket.close(code, reason),
        terminate: () => socket.terminate(),
      };
      host.sockets.add(counted);
      const session = accept.open(counted);
      // opened while a drain was closing the others
      if (host.isDraining()) counted.close(1001, 'server shutting down');
      return {
        message(data, binary) {
          messagesIn++;
          bytesIn += data.byteLength;
          session.message(data, binary);
        },
        drain: () => session.drain(),
        closed(code, reason, by) {
          host.sockets.delete(counted);
          ex.bytesIn = bytesIn;
          ex.bytesOut = bytesOut;
          ex.closedBy = by;
          ex.logExtra = {
            ...ex.logExtra,
            messages_in: messagesIn,
            messages_out: messagesOut,
            close_code: code,
          };
          const settled = session.closed(code, reason, by);
          if (settled instanceof Promise)
            void settled.then(
              () => done(null),
              () => done(null),
            );
          else done(null);
        },
      };
    },
  };
}

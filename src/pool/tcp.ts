/**
 * The TCP line-protocol job listener (`listen: [{kind: tcp, job: NAME}]`), on node:net (uWS.js has
 * no raw TCP API).
 *
 * Protocol: each line (`\n` or `\r\n`) is an integer; the answer is `Result: OUTPUT\n`, or
 * `Error: Invalid number\n` for anything else (including a number the job rejects with a
 * RangeError/TypeError, such as fib(91)). Lines may be pipelined: answers come in line order.
 * A line over 1 KiB answers `Error: Line too long\n` and closes the connection. Other errors:
 * `Error: Server busy\n` (pool full), `Error: Job failed\n`, `Error: Server shutting down\n` (lines
 * still waiting when the shutdown grace is over).
 * A client that half-closes (end of input) gets the answers to every line it sent, then the close;
 * a client that disconnects cancels its jobs (queued: dropped; running: worker terminated).
 * Details, limits and backpressure: connection.ts.
 *
 * An idle connection (no line for `idle`, default 60 s, nothing in flight) is answered
 * `Error: Idle timeout` and closed; connections beyond `max_connections` (default 1024) are closed
 * at once by node:net.
 *
 * One access-log line per connection when it closes: lines, jobs, failures, cancellations, summed
 * queue wait and run time, bytes, duration and why it ended.
 */
import { createServer, type Socket } from 'node:net';
import type { ListenConfig } from '../config/schema.js';
import { syError } from '../errors.js';
import type { Logs } from '../observe/log.js';
import { bindReason, ListenError } from '../server/engine.js';
import { LineConnection } from './connection.js';
import type { JobPool } from './index.js';

export interface TcpListenerHandle {
  readonly port: number;
  /** open connections */
  readonly connections: number;
  /**
   * Stop accepting; let each connection's jobs in flight finish and their answers go out, then end
   * it. After `graceMs` (default: the server's shutdown grace) the rest are cancelled and closed.
   * Resolves when every connection is closed.
   */
  close(graceMs?: number): Promise<void>;
}

/** Like nginx's stream proxy_timeout default (10 m) is for proxying; a line protocol idles shorter. */
const DEFAULT_IDLE_MS = 60_000;
const DEFAULT_MAX_CONNECTIONS = 1024;

function normaliseAddress(a: string | undefined): string {
  if (a === undefined) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/**
 * `jobs`: the jobs the listener may name — the pool's, or, on a reload that adds a job module with
 * its listener, the ones the pool is about to switch to (the listener opens before the switch).
 */
export async function listenTcp(
  l: ListenConfig,
  pool: JobPool,
  logs: Logs,
  jobs: ReadonlyMap<string, unknown> = pool.jobs,
): Promise<TcpListenerHandle> {
  const job = l.job;
  if (job === undefined || !jobs.has(job)) {
    throw new Error(`listen ${l.host}:${l.port}: tcp listener needs a known job (got "${job}")`);
  }
  const conns = new Set<LineConnection>();
  let nextId = 0;
  let allClosed: (() => void) | undefined;
  let listenName = `${l.host}:${l.port}`;

  const server = createServer({ allowHalfOpen: true, noDelay: true }, (socket: Socket) => {
    const conn = new LineConnection(socket, ++nextId, job, pool, l.idle ?? DEFAULT_IDLE_MS);
    conns.add(conn);
    const client = normaliseAddress(socket.remoteAddress);
    socket.once('close', () => {
      conns.delete(conn);
      // The line carries the job counts: written once the cancelled jobs have settled.
      const access = logs.access;
      if (access !== null) {
        conn.whenSettled(() =>
          access.info({
            track: 'tcp',
            listen: listenName,
            conn: conn.id,
            client,
            job,
            lines: conn.lines,
            invalid: conn.invalid,
            ...conn.timing.fields(),
            bytes_in: socket.bytesRead,
            bytes_out: socket.bytesWritten,
            ms: Math.round((performance.now() - conn.started) * 1000) / 1000,
            end: conn.endReason,
          }),
        );
      }
      if (conns.size === 0) allClosed?.();
    });
  });

  await new Promise<void>((resolve, reject) => {
    const failed = (err: NodeJS.ErrnoException) => {
      reject(new ListenError(`cannot listen on ${l.host}:${l.port} (${bindReason(err)})`, { cause: err }));
    };
    server.once('error', failed);
    server.maxConnections = l.max_connections ?? DEFAULT_MAX_CONNECTIONS;
    server.listen({ host: l.host, port: l.port, exclusive: true }, () => {
      server.off('error', failed);
      resolve();
    });
  });
  server.on('error', (err) => logs.error.error({ err, listen: listenName }, 'tcp listener error'));
  const port = (server.address() as { port: number }).port;
  pool.warm();
  listenName = `${l.host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    port,
    get connections() {
      return conns.size;
    },
    close(graceMs = pool.graceMs) {
      closing ??= (async () => {
        const stopped = new Promise<void>((resolve) => server.close(() => resolve()));
        const idle = new Promise<void>((resolve) => {
          allClosed = resolve;
          if (conns.size === 0) resolve();
        });
        for (const c of conns) c.shutdown();
        let timer: NodeJS.Timeout | undefined;
        const graceOver = new Promise<boolean>((resolve) => {
          timer = setTimeout(resolve, graceMs, false);
        });
        const done = await Promise.race([idle.then(() => true), graceOver]);
        clearTimeout(timer);
        if (!done) {
          const err = syError('SY_ERR_SHUTTING_DOWN', `tcp drain grace of ${graceMs} ms passed`);
          for (const c of conns) c.abort(err);
        }
        await Promise.all([idle, stopped]);
      })();
      return closing;
    },
  };
}

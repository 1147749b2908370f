/**
 * Logging: two pino loggers, the error log (levels, for operators) and the access log (one JSON
 * line per request). Both write through pino's asynchronous destination (SonicBoom with
 * `sync: false`): a write appends to a buffer and returns; the file descriptor is written from the
 * event loop, so a slow disk or a full pipe never blocks request handling. `flush()` on shutdown.
 */
import { type DestinationStream, type Logger, pino } from 'pino';
import type { Exchange } from '../exchange.js';

export interface Logs {
  error: Logger;
  /** null when `log.access: off` */
  access: Logger | null;
  flush(): void;
}

type Sink = DestinationStream & { flushSync?: () => void; end?: () => void };

function destination(target: string): Sink {
  if (target === 'stdout') return pino.destination({ dest: 1, sync: false, minLength: 0 }) as Sink;
  if (target === 'stderr') return pino.destination({ dest: 2, sync: false, minLength: 0 }) as Sink;
  return pino.destination({ dest: target, sync: false, mkdir: true, minLength: 4096 }) as Sink;
}

/** The loggers for `log:` config. `streams` replaces the destinations (tests capture lines this way). */
export function createLogs(
  opts: { level: string; access: string; error: string },
  streams?: { error: DestinationStream; access: DestinationStream },
): Logs {
  const sinks: Sink[] = [];
  const errSink = streams?.error ?? destination(opts.error);
  sinks.push(errSink);
  const error = pino(
    { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    errSink,
  );
  let access: Logger | null = null;
  if (opts.access !== 'off') {
    const accSink = streams?.access ?? (opts.access === opts.error ? errSink : destination(opts.access));
    if (accSink !== errSink) sinks.push(accSink);
    access = pino(
      { level: 'info', base: undefined, timestamp: pino.stdTimeFunctions.isoTime, messageKey: 'msg' },
      accSink,
    );
  }
  return {
    error,
    access,
    flush() {
      for (const s of sinks) {
        try {
          s.flushSync?.();
        } catch {
          // a closed pipe at exit is not worth a crash
        }
      }
    },
  };
}

/** A logger that drops everything (tests, tools). */
export function silentLogs(): Logs {
  return { error: pino({ level: 'silent' }), access: null, flush() {} };
}

/**
 * Write the access-log line of a finished exchange. Field names are stable (documented in README):
 * time, id, client, method, path, route, track, status (as written; 0 when none was), bytes_in,
 * bytes_out, ms, and when present upstream, upstream_status, upstream_ms, tries, closed_by, err.
 */
export function logAccess(access: Logger, ex: Exchange): void {
  const line: Record<string, unknown> = {
    id: ex.id,
    client: ex.remoteAddress,
    method: ex.method,
    path: ex.path,
    query: ex.query === '' ? undefined : ex.query,
    route: ex.route,
    track: ex.track,
    status: ex.status,
    bytes_in: ex.bytesIn,
    bytes_out: ex.bytesOut,
    ms: Math.round((performance.now() - ex.startTime) * 1000) / 1000,
  };
  if (ex.upstream !== undefined) {
    line.upstream = ex.upstream;
    line.upstream_status = ex.upstreamStatus;
    line.upstream_ms = Math.round(ex.upstreamTime * 1000) / 1000;
    line.tries = ex.tries;
  }
  if (ex.closedBy !== undefined) line.closed_by = ex.closedBy;
  if (ex.errorCode !== undefined) line.err = ex.errorCode;
  if (ex.logExtra !== undefined) Object.assign(line, ex.logExtra);
  access.info(line);
}

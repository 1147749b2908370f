/**
 * Logging: two pino loggers, the error log (levels, for operators) and the access log (one JSON
 * line per request). Both write through pino's asynchronous destination (SonicBoom with
 * `sync: false`): a write appends to a buffer and returns; the file descriptor is written from the
 * event loop, so a slow disk or a full pipe never blocks request handling.
 *
 * Durability: a file destination batches up to 32 KiB but is flushed every second
 * (`periodicFlush`), so a quiet server's lines reach the file within a second
 * (test/ops/signals-logs.test.ts "a line reaches the file within the flush period"). `close()` writes out
 * everything held and closes the files; every exit path (drain, second signal, crash) awaits it.
 * `reopen()` (SIGUSR1) reopens file destinations by path, for log rotation: lines written before
 * the reopen go to the old (renamed) file, lines after to the new one, none is lost.
 */
import { type DestinationStream, type Logger, pino, symbols } from 'pino';
import type { Exchange } from '../exchange.js';
import { isoTimeCached, TurnBatch } from './batch.js';

const { chindingsSym, streamSym } = symbols;

export interface Logs {
  error: Logger;
  /** null when `log.access: off` */
  access: Logger | null;
  /** Write out what is held, synchronously where possible (best effort: `exit` handlers). */
  flush(): void;
  /** Reopen file destinations by path (log rotation); stdout/stderr are left alone. */
  reopen(): void;
  /** Write out everything held and close the destinations; resolves when written (or after 2 s). */
  close(): Promise<void>;
}

/** How often a file destination writes out what it holds (ms): "within a second". */
const FILE_FLUSH_MS = 1000;

type Sink = DestinationStream & {
  flushSync?: () => void;
  end?: () => void;
  reopen?: () => void;
  once?: (event: string, fn: () => void) => void;
  file?: string;
};

function destination(target: string): Sink {
  if (target === 'stdout') return pino.destination({ dest: 1, sync: false, minLength: 0 }) as Sink;
  if (target === 'stderr') return pino.destination({ dest: 2, sync: false, minLength: 0 }) as Sink;
  return pino.destination({
    dest: target,
    sync: false,
    mkdir: true,
    // Under load one write per 32 KiB rather than per 4 KiB: each write is a hop to libuv's thread
    // pool and back (docs/performance.md); the periodic flush still bounds how long a line waits.
    minLength: 32 * 1024,
    maxWrite: 128 * 1024,
    periodicFlush: FILE_FLUSH_MS,
  } as Parameters<typeof pino.destination>[0]) as Sink;
}

/** End one sink and resolve once its last write is done and it is closed. */
function endSink(s: Sink): Promise<void> {
  if (typeof s.end !== 'function' || typeof s.once !== 'function') {
    try {
      s.flushSync?.();
    } catch {
      // a closed pipe at exit is not worth a crash
    }
    return Promise.resolve();
  }
  return new Promise<void>((resolve) => {
    const t = setTimeout(resolve, 2000);
    t.unref();
    s.once!('close', () => {
      clearTimeout(t);
      resolve();
    });
    s.once!('error', () => {
      clearTimeout(t);
      resolve();
    });
    try {
      s.end!();
    } catch {
      clearTimeout(t);
      resolve();
    }
  });
}

/** The loggers for `log:` config. `streams` replaces the destinations (tests capture lines this way). */
export function createLogs(
  opts: { level: string; access: string; error: string },
  streams?: { error: DestinationStream; access: DestinationStream },
): Logs {
  const sinks: Sink[] = [];
  /** access lines gathered this turn: handed to their sink before it is flushed, reopened or ended */
  const batches: TurnBatch[] = [];
  const handOver = () => {
    for (const b of batches) b.handOver();
  };
  const errSink = streams?.error ?? destination(opts.error);
  sinks.push(errSink);
  const error = pino(
    { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    errSink,
  );
  let access: Logger | null = null;
  if (opts.access !== 'off') {
    const accSink = streams?.access ?? (opts.access === opts.error ? errSink : destination(opts.access));
    let out: DestinationStream = accSink;
    if (accSink !== errSink) {
      sinks.push(accSink);
      // One write per event-loop turn (batch.ts); lines captured by tests stay synchronous.
      if (streams === undefined) {
        const batch = new TurnBatch(accSink);
        batches.push(batch);
        out = batch;
      }
    }
    access = pino({ level: 'info', base: undefined, timestamp: isoTimeCached, messageKey: 'msg' }, out);
  }
  let closing: Promise<void> | undefined;
  return {
    error,
    access,
    flush() {
      if (closing !== undefined) return;
      handOver();
      for (const s of sinks) {
        try {
          s.flushSync?.();
        } catch {
          // a closed pipe at exit, or a write in progress: not worth a crash
        }
      }
    },
    reopen() {
      if (closing !== undefined) return;
      handOver();
      for (const s of sinks) {
        if (typeof s.file === 'string' && typeof s.reopen === 'function') {
          try {
            // Lines held in the batch (up to 32 KiB) were logged before the rotation: they go to the
            // old file (test/ops/signals-logs.test.ts "logrotate's rename + USR1 …").
            s.flushSync?.();
          } catch {
            // a write in progress: SonicBoom finishes it on the old file before reopening
          }
          try {
            s.reopen();
          } catch (err) {
            error.error({ err, file: s.file }, `cannot reopen log file ${s.file}`);
          }
        }
      }
    },
    close() {
      if (closing === undefined) handOver();
      closing ??= Promise.all(sinks.map(endSink)).then(() => {});
      return closing;
    },
  };
}

/** A logger that drops everything (tests, tools). */
export function silentLogs(): Logs {
  return {
    error: pino({ level: 'silent' }),
    access: null,
    flush() {},
    reopen() {},
    close: () => Promise.resolve(),
  };
}

/** The status the log and the counters report: as written; 0 when none was. */
export function loggedStatus(ex: Exchange): number {
  return ex.status;
}

/** Who the client is: the peer, or what a trusted proxy in front of it says (X-Forwarded-For). */
export type ClientOf = (ex: Exchange) => string;

/**
 * Write the access-log line of a finished exchange. Field names are stable (documented in README):
 * time, id, client, peer, method, host, path, route, track, status (as written; 0 when none was),
 * bytes_in, bytes_out, ms, user_agent, referer, and when present upstream, upstream_status,
 * upstream_ms, tries, closed_by, err. `peer` is the TCP peer; `client` is the same unless the peer
 * is a trusted proxy (X-Forwarded-For) or a trusted balancer's PROXY header says otherwise.
 */
export function logAccess(access: Logger, ex: Exchange, clientOf?: ClientOf): void {
  const peer = ex.remoteAddress;
  const client = clientOf === undefined ? peer : clientOf(ex);
  const own = access as unknown as Record<symbol, unknown>;
  // pino's own layout ({"level":30,"time":…,<child bindings>,fields}), built here in one string:
  // pino's generic serialisation of a fresh object per line was the larger part of the log's
  // cost (docs/performance.md). Strings go through JSON.stringify; absent fields are left out.
  let line = `{"level":30${isoTimeCached()}${own[chindingsSym] as string},"id":${q(ex.id)},"client":${q(client)},"peer":${q(peer)},"method":${q(ex.method)}`;
  if (ex.host !== '') line += `,"host":${q(ex.host)}`;
  line += `,"path":${q(ex.path)}`;
  if (ex.query !== '') line += `,"query":${q(ex.query)}`;
  line += `,"route":${q(ex.route)},"track":${q(ex.track)}`;
  line += `,"status":${num(ex.status)},"bytes_in":${num(ex.bytesIn)},"bytes_out":${num(ex.bytesOut)},"ms":${num(Math.round((performance.now() - ex.startTime) * 1000) / 1000)}`;
  const ua = ex.header('user-agent');
  if (ua !== undefined) line += `,"user_agent":${q(ua)}`;
  const referer = ex.header('referer');
  if (referer !== undefined) line += `,"referer":${q(referer)}`;
  if (ex.upstream !== undefined) {
    line += `,"upstream":${q(ex.upstream)},"upstream_status":${num(ex.upstreamStatus)},"upstream_ms":${num(Math.round(ex.upstreamTime * 1000) / 1000)},"tries":${num(ex.tries)}`;
  }
  if (ex.closedBy !== undefined) line += `,"closed_by":${q(ex.closedBy)}`;
  if (ex.errorCode !== undefined) line += `,"err":${q(ex.errorCode)}`;
  if (ex.logExtra !== undefined) {
    const extra = JSON.stringify(ex.logExtra);
    if (extra.length > 2) line += `,${extra.slice(1, -1)}`;
  }
  (own[streamSym] as { write(s: string): unknown }).write(`${line}}\n`);
}

/** Printable ASCII without `"` and `\\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as a JSON string literal: the common plain case without JSON.stringify's generic path. */
function q(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** A number as JSON writes it (null for NaN and ±Infinity, as pino does). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

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
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { type DestinationStream, type Logger, pino } from 'pino';
import type { Exchange } from '../exchange.js';
import { type ByteSink, isoTimeCached, TurnBatch } from './batch.js';

export { type ClientOf, logAccess } from './access-line.js';

export interface Logs {
  error: Logger;
  /** null when `log.access: off` */
  access: Logger | null;
  /** Write out what is held, synchronously where possible (best effort: `exit` handlers). */
  flush(): void;
  /** Reopen file destinations by path (log rotation); stdout/stderr are left alone. */
  /** false when a file could not be reopened (said in the error log; its old file is kept) */
  reopen(): boolean;
  /** Write out everything held and close the destinations; resolves when written (or after 2 s). */
  close(): Promise<void>;
}

/** How often a file destination writes out what it holds (ms): "within a second". */
const FILE_FLUSH_MS = 1000;
/** Bytes a file destination gathers before it writes (see `destination`). */
const FILE_WRITE = 32 * 1024;
/** A batched file destination writes by itself only when this much is held (writes lag behind). */
const HELD_MAX = 1024 * 1024;

type Sink = DestinationStream & {
  flushSync?: () => void;
  end?: () => void;
  reopen?: () => void;
  once?: (event: string, fn: () => void) => void;
  on?: (event: 'error', fn: (err: Error) => void) => void;
  file?: string;
};

/**
 * A pino destination. `bytes`: for an access-log batch (batch.ts), which hands over encoded bytes
 * and decides when a file is written: it hands over 32 KiB or more and asks for the write
 * (`flush`); what it hands over otherwise stays held below `minLength`, so that `flushSync` can
 * still write it synchronously (test/log-batch.test.ts "… flush() at shutdown loses none").
 */
function destination(target: string, bytes: boolean): Sink {
  const mode = bytes ? { contentMode: 'buffer' } : {};
  if (target === 'stdout' || target === 'stderr') {
    const dest = target === 'stdout' ? 1 : 2;
    return pino.destination({ dest, sync: false, minLength: 0, ...mode } as Parameters<
      typeof pino.destination
    >[0]) as Sink;
  }
  return pino.destination({
    dest: target,
    sync: false,
    mkdir: true,
    // Under load one write per 32 KiB rather than per 4 KiB: each write is a hop to libuv's thread
    // pool and back (docs/performance.md); the periodic flush still bounds how long a line waits.
    minLength: bytes ? HELD_MAX - 1 : FILE_WRITE,
    maxWrite: bytes ? HELD_MAX : 128 * 1024,
    periodicFlush: FILE_FLUSH_MS,
    ...mode,
  } as Parameters<typeof pino.destination>[0]) as Sink;
}

/**
 * Open `file` for appending, its directory made, and close it again: throws what opening it as a
 * log destination would (EISDIR, EACCES …). `check`, `start` and a reopen ask this first.
 */
export function openForAppend(file: string): void {
  mkdirSync(dirname(resolve(file)), { recursive: true });
  closeSync(openSync(file, 'a'));
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
  const errSink = streams?.error ?? destination(opts.error, false);
  sinks.push(errSink);
  const error = pino(
    { level: opts.level, base: { pid: process.pid }, timestamp: pino.stdTimeFunctions.isoTime },
    errSink,
  );
  let access: Logger | null = null;
  if (opts.access !== 'off') {
    const own = streams === undefined && opts.access !== opts.error;
    const accSink = streams?.access ?? (own ? destination(opts.access, true) : errSink);
    let out: DestinationStream = accSink;
    if (accSink !== errSink) {
      sinks.push(accSink);
      // One encoding per event-loop turn, one write per 32 KiB for a file (batch.ts); lines
      // captured by tests stay synchronous.
      if (own) {
        const file = opts.access !== 'stdout' && opts.access !== 'stderr';
        const batch = new TurnBatch(accSink as Sink & ByteSink, {
          minLength: file ? FILE_WRITE : 0,
          flushMs: file ? FILE_FLUSH_MS : 0,
        });
        batches.push(batch);
        out = batch;
      }
    }
    access = pino({ level: 'info', base: undefined, timestamp: isoTimeCached, messageKey: 'msg' }, out);
  }
  // A file that cannot be (re)opened or written (a rotation that left a root-owned file, a full
  // disk) is said, and the server goes on: SonicBoom keeps the file it had (as nginx does on a
  // failed reopen). Without a listener its 'error' event would end the process.
  if (streams === undefined) {
    for (const s of sinks) {
      if (typeof s.on !== 'function') continue;
      const target = s === errSink ? opts.error : opts.access;
      s.on('error', (err) => {
        const msg = `cannot open or write log file ${target}: ${err.message}; writing on to the file open before`;
        if (s === errSink) process.stderr.write(`switchyard: ${msg}\n`);
        else error.error({ err, file: target }, msg);
      });
    }
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
      if (closing !== undefined) return true;
      handOver();
      let all = true;
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
            // Opened here first: SonicBoom would open it asynchronously and, failing, emit an
            // error and keep a stale listener that closes the old file twice at the next reopen.
            // Failing, the old file is kept, as nginx does (test/ops/signals-logs.test.ts).
            openForAppend(s.file);
            s.reopen();
          } catch (err) {
            all = false;
            error.error(
              { err, file: s.file },
              `cannot reopen log file ${s.file}: ${(err as Error).message}; writing on to the file open before`,
            );
          }
        }
      }
      return all;
    },
    close() {
      if (closing === undefined) for (const b of batches) b.close();
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
    reopen: () => true,
    close: () => Promise.resolve(),
  };
}

/** The status the log and the counters report: as written; 0 when none was. */
export function loggedStatus(ex: Exchange): number {
  return ex.status;
}

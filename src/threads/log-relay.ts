/**
 * Log lines from acceptor threads reach the supervisor's destinations whole. Each acceptor's pino
 * loggers write into a relay stream that collects the lines of one event-loop turn and posts them
 * in one message; the supervisor writes each message's text with one write to the destination (a
 * SonicBoom buffer on the main thread). Only the main thread ever writes to the file descriptor,
 * and every message is whole lines, so lines from different threads never interleave
 * (test/threads/threads.test.ts parses every line of a multi-thread run as JSON).
 *
 * A thread that crashes loses at most the lines of its last turn (not yet posted).
 */
import { Writable } from 'node:stream';
import type { MessagePort } from 'node:worker_threads';
import { type Logger, symbols } from 'pino';
import type { Logs } from '../observe/log.js';
import type { FromAcceptor } from './messages.js';

/** The acceptor's side: a stream for pino that posts whole lines to the supervisor. */
export function relayStream(port: MessagePort, kind: 'error' | 'access'): Writable & { flushNow(): void } {
  let held = '';
  let scheduled = false;
  const flushNow = () => {
    scheduled = false;
    if (held === '') return;
    const text = held;
    held = '';
    port.postMessage({ type: 'log', kind, text } satisfies FromAcceptor);
  };
  const stream = new Writable({
    write(chunk: Buffer | string, _enc, cb) {
      held += typeof chunk === 'string' ? chunk : chunk.toString();
      if (!scheduled) {
        scheduled = true;
        setImmediate(flushNow);
      }
      cb();
    },
    decodeStrings: false,
  });
  return Object.assign(stream, { flushNow });
}

type Dest = { write(text: string): unknown };

/** The supervisor's side: where an acceptor's lines go (its own loggers' destinations). */
export function relaySink(logs: Logs): (kind: 'error' | 'access', text: string) => void {
  const dest = (l: Logger | null): Dest | undefined =>
    l === null ? undefined : ((l as unknown as Record<symbol, Dest>)[symbols.streamSym] as Dest | undefined);
  const error = dest(logs.error);
  const access = dest(logs.access);
  return (kind, text) => {
    (kind === 'access' ? access : error)?.write(text);
  };
}

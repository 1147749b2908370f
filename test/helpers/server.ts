/**
 * Test helpers: a real Switchyard server in-process (real uWS sockets on 127.0.0.1, port 0) with
 * its logs captured as parsed JSON lines, and a raw-socket client for exact bytes on the wire.
 */
import { connect } from 'node:net';
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import { createLogs } from '../../src/observe/log.js';
import { Server } from '../../src/server.js';

export interface TestServer {
  server: Server;
  port: number;
  url: string;
  /** access-log lines written so far (parsed) */
  access: Record<string, unknown>[];
  /** error-log lines written so far (parsed) */
  errors: Record<string, unknown>[];
  close(): Promise<void>;
}

function capture(into: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) into.push(JSON.parse(line));
      cb();
    },
  });
}

/** Start a server from YAML text. `listen` is forced to one http listener on port 0 unless given. */
export async function startServer(yaml: string, file = '/tmp/switchyard-test.yaml'): Promise<TestServer> {
  const text = /^listen:/m.test(yaml) ? yaml : `listen:\n  - { host: 127.0.0.1, port: 0 }\n${yaml}`;
  const loaded = parseConfig(text, file);
  const access: Record<string, unknown>[] = [];
  const errors: Record<string, unknown>[] = [];
  const logs = createLogs(
    { level: 'info', access: 'stdout', error: 'stderr' },
    { error: capture(errors), access: capture(access) },
  );
  const server = await Server.build(loaded, { logs });
  const listening = await server.listen();
  const port = listening.find((l) => l.kind === 'http')!.port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    access,
    errors,
    close: () => server.drain(0),
  };
}

export interface RawResult {
  /** everything received, as latin1 text */
  text: string;
  /** the server closed the connection (before our timeout) */
  closed: boolean;
  /** ms from sending to the first byte received (-1 if none) */
  firstByteMs: number;
}

/**
 * Send exact bytes; collect what comes back until the server closes, or `waitMs` of silence after
 * the last byte (or `firstMs` without any byte). `closed` tells whether the server closed.
 */
export function raw(port: number, bytes: string | Buffer, waitMs = 100, firstMs = 3000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    let sentAt = 0;
    let firstByteMs = -1;
    let settled = false;
    const done = (closed: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ text: Buffer.concat(chunks).toString('latin1'), closed, firstByteMs });
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => done(false), ms);
    };
    s.on('data', (c) => {
      if (firstByteMs === -1) firstByteMs = performance.now() - sentAt;
      chunks.push(c);
      arm(waitMs);
    });
    s.on('end', () => done(true));
    s.on('close', () => done(true));
    s.on('error', (e) => (chunks.length ? done(true) : reject(e)));
    s.on('connect', () => {
      sentAt = performance.now();
      s.write(bytes);
      arm(firstMs);
    });
  });
}

/** Parse the first response in `text`: status, headers (lower-case, arrays for repeats), body. */
export function parseResponse(text: string): {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  rest: string;
} {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, end).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    (headers[k] ??= []).push(l.slice(i + 1).trim());
  }
  let body = text.slice(end + 4);
  let rest = '';
  const cl = headers['content-length'];
  if (cl) {
    rest = body.slice(Number(cl[0]));
    body = body.slice(0, Number(cl[0]));
  }
  return { status, headers, body, rest };
}

/** Wait until `fn` returns truthy (polling), or throw after `ms`. */
export async function until<T>(fn: () => T | undefined | false, ms = 2000, what = 'condition'): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

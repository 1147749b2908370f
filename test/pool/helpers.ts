/**
 * Helpers for the pool tests. Everything runs from the built JS in dist/ (as the workers must):
 * the server, the pool and the handler/job modules, so that errors thrown by handlers (HttpError
 * from dist/src/api.js) are the same classes the pipeline checks against. Types come from src/.
 */
import { connect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type * as LoadModule from '../../src/config/load.js';
import { packageRoot } from '../../src/config/load.js';
import type { Logs } from '../../src/observe/log.js';
import type * as PoolModule from '../../src/pool/index.js';
import type * as ServerModule from '../../src/server.js';

const dist = <T>(path: string): Promise<T> => import(join(packageRoot, 'dist', path)) as Promise<T>;

export const { Server } = await dist<typeof ServerModule>('src/server.js');
export const { parseConfig, ConfigError } = await dist<typeof LoadModule>('src/config/load.js');
export const { JobPool } = await dist<typeof PoolModule>('src/pool/index.js');
export type JobPool = PoolModule.JobPool;
export type Server = ServerModule.Server;

export const FIXTURES = join(packageRoot, 'test', 'fixtures', 'routes');
export const BUILT_ROUTES = join(packageRoot, 'dist', 'routes');

export type Line = Record<string, unknown>;

function capture(into: Line[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) into.push(JSON.parse(line));
      cb();
    },
  });
}

/** Loggers writing parsed lines into arrays. */
export function captureLogs(): Logs & { accessLines: Line[]; errorLines: Line[] } {
  const accessLines: Line[] = [];
  const errorLines: Line[] = [];
  return {
    error: pino({ level: 'info', base: undefined }, capture(errorLines)),
    access: pino({ level: 'info', base: undefined }, capture(accessLines)),
    flush() {},
    accessLines,
    errorLines,
  };
}

export interface TestServer {
  server: Server;
  pool: JobPool;
  /** the first http listener's port (0 if none) */
  port: number;
  /** the first tcp listener's port (0 if none) */
  tcpPort: number;
  access: Line[];
  errors: Line[];
  close(graceMs?: number): Promise<void>;
}

/** A real server from YAML; `listen` defaults to one http listener on 127.0.0.1:0. */
export async function startServer(yaml: string): Promise<TestServer> {
  const text = /^listen:/m.test(yaml) ? yaml : `listen:\n  - { host: 127.0.0.1, port: 0 }\n${yaml}`;
  const logs = captureLogs();
  const server = await Server.build(parseConfig(text, '/tmp/switchyard-pool-test.yaml'), { logs });
  const listening = await server.listen();
  return {
    server,
    pool: (server as unknown as { pool: JobPool }).pool,
    port: listening.find((l) => l.kind === 'http')?.port ?? 0,
    tcpPort: listening.find((l) => l.kind === 'tcp')?.port ?? 0,
    access: logs.accessLines,
    errors: logs.errorLines,
    close: (graceMs = 0) => server.drain(graceMs),
  };
}

export interface HttpResult {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parse one complete HTTP/1.1 response (Content-Length framed). */
export function parseResponse(text: string): HttpResult {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no response head in ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  const body = text.slice(end + 4);
  const cl = headers['content-length'];
  return {
    status: Number(lines[0]!.split(' ')[1]),
    headers,
    body: cl === undefined ? body : body.slice(0, Number(cl)),
  };
}

/** GET over a fresh connection (Connection: close); resolves with the parsed response. */
export function get(port: number, path: string, extra = ''): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    s.on('data', (c) => chunks.push(c));
    s.on('error', reject);
    s.on('close', () => {
      try {
        resolve(parseResponse(Buffer.concat(chunks).toString('latin1')));
      } catch (err) {
        reject(err);
      }
    });
    s.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n${extra}\r\n`);
  });
}

/** Send a GET and keep the socket: the test destroys it to abort the request. */
export function openRequest(port: number, path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
      resolve(s);
    });
    s.on('error', reject);
  });
}

/** A line-protocol client: what it received, and waiting for lines or the close. */
export interface LineClient {
  socket: Socket;
  received(): string;
  /** resolves with the first `n` lines received (waits for them) */
  lines(n: number, ms?: number): Promise<string[]>;
  /** resolves with everything received once the server has closed the connection */
  closed: Promise<string>;
  send(text: string): void;
}

export function lineClient(port: number): Promise<LineClient> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    socket.setEncoding('latin1');
    let text = '';
    const waiters = new Set<() => void>();
    socket.on('data', (d: string) => {
      text += d;
      for (const w of waiters) w();
    });
    socket.on('error', () => {});
    const closed = new Promise<string>((r) => socket.on('close', () => r(text)));
    socket.once('connect', () =>
      resolve({
        socket,
        received: () => text,
        closed,
        send: (t) => socket.write(t, 'latin1'),
        lines(n, ms = 10_000) {
          return new Promise((res, rej) => {
            const check = () => {
              const ls = text.split('\n');
              if (ls.length > n) {
                waiters.delete(check);
                clearTimeout(t);
                res(ls.slice(0, n));
              }
            };
            const t = setTimeout(() => {
              waiters.delete(check);
              rej(new Error(`timed out waiting for ${n} lines; got ${JSON.stringify(text)}`));
            }, ms);
            waiters.add(check);
            void closed.then(() => setTimeout(check, 0));
            check();
          });
        },
      }),
    );
    socket.once('error', reject);
  });
}

/** Poll until `fn` returns truthy; throws after `ms`. */
export async function until<T>(
  fn: () => T | undefined | false | null,
  ms = 2000,
  what = 'condition',
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** fib(n) by iteration in BigInt: the reference the job is checked against. */
export function refFib(n: number): bigint {
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a;
}

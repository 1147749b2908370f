/**
 * Fixtures for the proxy tests: a Switchyard server built in-process from YAML (access log
 * captured), real upstreams (node:http, or raw net servers with scripted faults), and a plain
 * HTTP client that reports what came back, including a connection closed mid-response.
 */

import { type ChildProcess, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { afterEach } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import type { Logs } from '../../src/observe/log.js';
import { Server } from '../../src/server.js';

// --- the proxy ------------------------------------------------------------------------------

export interface ProxyServer {
  server: Server;
  port: number;
  url: string;
  /** access-log lines so far (parsed) */
  access: Record<string, unknown>[];
  /** error-log lines so far (parsed) */
  errors: Record<string, unknown>[];
  /** the access-log line of the request with this path, once written */
  accessFor(path: string, timeoutMs?: number): Promise<Record<string, unknown>>;
  close(): Promise<void>;
}

function collector(into: Record<string, unknown>[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') into.push(JSON.parse(line));
      cb();
    },
  });
}

/** A Switchyard server from YAML; `listen:` defaults to one port-0 listener on 127.0.0.1. */
export async function startProxy(yaml: string): Promise<ProxyServer> {
  const text = /^listen:/m.test(yaml) ? yaml : `listen: [{ host: 127.0.0.1, port: 0 }]\n${yaml}`;
  const loaded = parseConfig(text, '/tmp/proxy-test.yaml');
  const access: Record<string, unknown>[] = [];
  const errors: Record<string, unknown>[] = [];
  const logs: Logs = {
    error: pino({ level: 'info' }, collector(errors)),
    access: pino({ level: 'info', base: undefined }, collector(access)),
    flush() {},
  };
  const server = await Server.build(loaded, { logs });
  const [first] = await server.listen();
  const port = first!.port;
  return {
    server,
    port,
    url: `http://127.0.0.1:${port}`,
    access,
    errors,
    async accessFor(path, timeoutMs = 2000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const line = access.find((l) => l.path === path);
        if (line !== undefined) return line;
        if (Date.now() > until) throw new Error(`no access-log line for ${path}`);
        await sleep(5);
      }
    },
    close: () => server.drain(500),
  };
}

// --- upstreams ------------------------------------------------------------------------------

export interface Upstream {
  port: number;
  url: string;
  /** requests received (counted when the head arrived) */
  hits: number;
  /** open sockets, and the time each closed */
  sockets: Set<net.Socket>;
  closedAt: number[];
  close(): Promise<void>;
}

function track(server: net.Server, u: Upstream): void {
  server.on('connection', (s: net.Socket) => {
    u.sockets.add(s);
    s.on('close', () => {
      u.sockets.delete(s);
      u.closedAt.push(performance.now());
    });
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A node:http upstream. The handler sees every request; `hits` counts them. */
export async function httpUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, u: Upstream) => void,
): Promise<Upstream & { server: http.Server }> {
  const server = http.createServer();
  const u = {
    port: 0,
    url: '',
    hits: 0,
    sockets: new Set<net.Socket>(),
    closedAt: [] as number[],
    server,
    async close() {
      for (const s of u.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(server, u);
  server.on('request', (req, res) => {
    u.hits++;
    handler(req, res, u);
  });
  u.port = await listen(server);
  u.url = `http://127.0.0.1:${u.port}`;
  return u;
}

/** An upstream that answers every request with `name` (and echoes what it got in headers). */
export function namedUpstream(name: string, delayMs = 0): Promise<Upstream & { server: http.Server }> {
  return httpUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = () => {
        res.setHeader('x-upstream', name);
        res.end(name);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
}

/**
 * A raw TCP upstream: `onRequest` gets the socket and the request head (as text) of every request
 * on it, and the index of that request on the connection (0 for the first).
 */
export async function rawUpstream(
  onRequest: (socket: net.Socket, head: string, n: number, u: Upstream) => void,
): Promise<Upstream> {
  const server = net.createServer();
  const u: Upstream = {
    port: 0,
    url: '',
    hits: 0,
    sockets: new Set(),
    closedAt: [],
    async close() {
      for (const s of u.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(server, u);
  server.on('connection', (socket) => {
    let buf = '';
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) break;
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        // Bodies in these tests are small and sent with Content-Length: skip them.
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        if (cl) buf = buf.slice(Number(cl[1]));
        u.hits++;
        onRequest(socket, head, n++, u);
      }
    });
  });
  u.port = await listen(server);
  u.url = `http://127.0.0.1:${u.port}`;
  return u;
}

/** A port nothing listens on (connection refused). */
export async function refusedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

// --- the client -----------------------------------------------------------------------------

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** the response ended properly (false: the connection closed mid-body) */
  complete: boolean;
  error?: string;
}

/** One request with a fresh connection; never rejects for HTTP-level outcomes. */
export function get(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || err.message === 'socket hang up')
        resolve({ status: 0, headers: {}, body: '', complete: false, error: err.message });
      else reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (complete: boolean, error?: string) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          complete,
          ...(error === undefined ? {} : { error }),
        });
      res.on('end', () => done(res.complete));
      res.on('error', (err) => done(false, err.message));
      res.on('aborted', () => done(false, 'aborted'));
    });
    req.end(opts.body);
  });
}

/** Raw bytes over a fresh socket; resolves with everything received until the server closes or `ms`. */
export function rawRequest(port: number, bytes: string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let out = '';
    const t = setTimeout(() => s.destroy(), ms);
    s.on('data', (d) => {
      out += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
    s.write(bytes);
  });
}

// --- the built CLI as a child process ---------------------------------------------------------

export interface CliProxy {
  port: number;
  url: string;
  pid: number;
  child: ChildProcess;
  /** resident set size now, bytes (from /proc) */
  rss(): number;
  /** open file descriptors now */
  fds(): number;
  /** stderr so far */
  stderr(): string;
  /** the temporary directory holding the config (`@DIR@` in the YAML is replaced by it) */
  dir: string;
  /** access-log lines so far, when the config sends them to stderr (`log: { access: stderr }`) */
  accessLog(): Record<string, unknown>[];
  stop(): Promise<void>;
}

/**
 * `node dist/src/cli.js start -c FILE` with this YAML (after `npm run build`); `listen:` is added
 * (port 0) unless given. Resolves once the listen line is on stderr (the bound port is read from it).
 */
export async function startCli(yaml: string, root = process.cwd()): Promise<CliProxy> {
  const dir = mkdtempSync(join(tmpdir(), 'sy-proxy-'));
  yaml = yaml.replaceAll('@DIR@', dir);
  const text = /^listen:/m.test(yaml) ? yaml : `listen: [{ host: 127.0.0.1, port: 0 }]\n${yaml}`;
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, text);
  const child = spawn(process.execPath, [join(root, 'dist/src/cli.js'), 'start', '-c', file], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.setEncoding('utf8');
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`switchyard did not start:\n${err}`)), 15_000);
    child.stderr!.on('data', (d: string) => {
      err += d;
      if (err.includes('listening on')) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`switchyard exited with ${code}:\n${err}`));
    });
  });
  const pid = child.pid!;
  const bound = Number(/listening on [^:]+:(\d+)/.exec(err)![1]);
  return {
    port: bound,
    url: `http://127.0.0.1:${bound}`,
    pid,
    child,
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m![1]) * 1024;
    },
    fds() {
      return readdirSync(`/proc/${pid}/fd`).length;
    },
    stderr: () => err,
    dir,
    accessLog() {
      const out: Record<string, unknown>[] = [];
      for (const line of err.split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        if ('track' in rec) out.push(rec);
      }
      return out;
    },
    async stop() {
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// --- misc -----------------------------------------------------------------------------------

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

export function sha256(): ReturnType<typeof createHash> {
  return createHash('sha256');
}

/** Poll until `check` returns true, or fail after `ms`. */
export async function until(check: () => boolean, ms = 2000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/**
 * Close-after-each-test registration for proxy tests: call once at module level, then wrap every
 * server or upstream the test opens with the returned `later(x)`; they close in reverse order.
 */
export function closeAfterEach(): <T extends { close(): Promise<void> }>(x: T) => T {
  const cleanup: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  return (x) => {
    cleanup.push(() => x.close());
    return x;
  };
}

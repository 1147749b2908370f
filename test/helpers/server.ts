/**
 * The one in-process server for tests: a real Switchyard server built from YAML (real uWS sockets on
 * 127.0.0.1, port 0, real upstreams and worker threads), with both logs captured as parsed JSON
 * lines. The server runs from src/; the pool's workers and the handler fixtures load dist/ (run
 * `npm run build` first), and errors from there are matched by shape, not class.
 */
import { Writable } from 'node:stream';
import { parseConfig } from '../../src/config/load.js';
import { createLogs } from '../../src/observe/log.js';
import type { JobPool } from '../../src/pool/index.js';
import { Server } from '../../src/server.js';
import { until } from './wait.js';

export type Line = Record<string, unknown>;

export interface TestServer {
  server: Server;
  /** the worker pool (the server keeps it private) */
  pool: JobPool;
  /** the first http listener's port (0 if none) */
  port: number;
  url: string;
  /** the first tcp listener's port (0 if none) */
  tcpPort: number;
  /** access-log lines written so far (parsed) */
  access: Line[];
  /** error-log lines written so far (parsed) */
  errors: Line[];
  /** the access-log line of the request with this path, once written */
  accessFor(path: string, ms?: number): Promise<Line>;
  /** drain: wait up to `graceMs` for requests in flight, then cancel them (default 0) */
  close(graceMs?: number): Promise<void>;
}

export interface StartOptions {
  /** the config's file name (relative paths in it resolve against its folder) */
  file?: string;
}

function capture(into: Line[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') into.push(JSON.parse(line));
      cb();
    },
  });
}

/** Start a server from YAML text; `listen:` defaults to one http listener on 127.0.0.1:0. */
export async function startServer(yaml: string, opts: StartOptions = {}): Promise<TestServer> {
  const text = /^listen:/m.test(yaml) ? yaml : `listen:\n  - { host: 127.0.0.1, port: 0 }\n${yaml}`;
  const loaded = parseConfig(text, opts.file ?? '/tmp/switchyard-test.yaml');
  const access: Line[] = [];
  const errors: Line[] = [];
  const logs = createLogs(
    { level: 'info', access: 'stdout', error: 'stderr' },
    { error: capture(errors), access: capture(access) },
  );
  const server = await Server.build(loaded, { logs });
  const listening = await server.listen();
  const port = listening.find((l) => l.kind === 'http')?.port ?? 0;
  return {
    server,
    pool: (server as unknown as { pool: JobPool }).pool,
    port,
    url: `http://127.0.0.1:${port}`,
    tcpPort: listening.find((l) => l.kind === 'tcp')?.port ?? 0,
    access,
    errors,
    accessFor: (path, ms) =>
      until(() => access.find((l) => l.path === path), ms, `the access-log line for ${path}`),
    close: (graceMs = 0) => server.drain(graceMs),
  };
}

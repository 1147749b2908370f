/**
 * The servers the bench can start, each as a child process on its own free loopback port:
 * the origin, the proxy contenders (nginx, HAProxy, Caddy, fastify, the two floors of our own stack)
 * and the handler contenders; Switchyard is both, with the access log off and on.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort, waitReady } from '../lib/net.js';
import { type Spawned, spawnTracked, stop } from '../lib/proc.js';
import { writeCaddyConf } from './caddy.js';
import { writeHaproxyConf } from './haproxy.js';
import { writeNginxConf } from './nginx.js';
import { writeSwitchyardConf } from './switchyard.js';

export type ServerId =
  | 'origin'
  | 'switchyard'
  | 'switchyard-log'
  | 'switchyard-lean'
  | 'switchyard-base'
  | 'switchyard-base-log'
  | 'switchyard-node'
  | 'nginx'
  | 'haproxy'
  | 'caddy'
  | 'uws-undici'
  | 'uws-read'
  | 'uws-undici-fields'
  | 'uws-socket'
  | 'fastify-proxy'
  | 'uws'
  | 'fastify'
  | 'node-http';

export const LABELS: Record<ServerId, string> = {
  origin: 'origin (raw uWS)',
  switchyard: 'Switchyard (uws engine)',
  'switchyard-log': 'Switchyard, access log on',
  'switchyard-lean': 'Switchyard forwarding only the floor’s fields',
  'switchyard-base': 'Switchyard baseline (--baseline)',
  'switchyard-base-log': 'Switchyard baseline, access log on',
  'switchyard-node': 'Switchyard (node engine)',
  nginx: 'nginx',
  haproxy: 'HAProxy',
  caddy: 'Caddy (GOMAXPROCS=1)',
  'uws-undici': 'floor: uWS + undici dispatch',
  'uws-read': 'floor: raw uWS.js reading the whole request head',
  'uws-undici-fields': 'floor: uWS + undici dispatch, a proxy’s fields',
  'uws-socket': 'floor: uWS + raw net.Socket',
  'fastify-proxy': 'fastify + @fastify/http-proxy',
  uws: 'raw uWS.js',
  fastify: 'fastify',
  'node-http': 'node:http',
};

export interface StartContext {
  /** Repository root (holds package.json, dist/). */
  root: string;
  /** The compiled loadtest directory (dist/loadtest). */
  distLoadtest: string;
  /** Scratch directory for generated configs; removed when the bench ends. */
  tmp: string;
  /** Port of the running origin (0 if none is needed). */
  originPort: number;
  nginxBin: string | null;
  /** Why nginx is unavailable, when `nginxBin` is null. */
  nginxWhy?: string;
  /** Paths of haproxy and caddy (null: unavailable, `why` says why). */
  tools: Partial<Record<'haproxy' | 'caddy', { path: string | null; why?: string }>>;
  /** Hard open-file limit, for nginx's worker_rlimit_nofile. */
  nofile: number;
  startTimeoutMs: number;
  /** `--baseline=DIR`: another build of Switchyard (DIR/dist/src/cli.js) to compare in the same run. */
  baseline?: string;
  /** Extra Node flags for the Node contenders (the profiler's `--perf-basic-prof`), and their cwd. */
  nodeFlags?: string[];
  nodeCwd?: string;
  /** `bench:ab --engine=node`: serve every Switchyard contender on the node engine. */
  engine?: 'uws' | 'node';
}

export interface Running {
  id: ServerId;
  port: number;
  pid: number;
  proc: Spawned;
}

export type StartResult = { ok: true; server: Running } | { ok: false; reason: string; output: string };

/**
 * A start context for a tool that runs a few contenders of its own (bench:ab, bench:profile): the
 * repository around `distLoadtest`, a scratch directory removed at exit, no nginx, HAProxy or
 * Caddy. The origin's port is filled in once it runs.
 */
export function localContext(distLoadtest: string, name: string): StartContext {
  const tmp = mkdtempSync(path.join(os.tmpdir(), `switchyard-${name}-`));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  return {
    root: path.resolve(distLoadtest, '..', '..'),
    distLoadtest,
    tmp,
    originPort: 0,
    nginxBin: null,
    tools: {},
    nofile: 65535,
    startTimeoutMs: 15_000,
  };
}

/** Starts server `id` and waits for it to answer; never throws. */
export async function startServer(id: ServerId, ctx: StartContext): Promise<StartResult> {
  const port = await freePort();
  let proc: Spawned;
  let readyPath = '/';
  const node = (script: string, extra: string[] = []) =>
    spawnTracked(
      id,
      process.execPath,
      [...(ctx.nodeFlags ?? []), path.join(ctx.distLoadtest, script), '--port', String(port), ...extra],
      {
        cwd: ctx.nodeCwd ?? ctx.root,
      },
    );
  switch (id) {
    case 'origin':
      proc = node('origin.js');
      readyPath = '/small';
      break;
    case 'uws':
      proc = node('contenders/uws-hello.js');
      break;
    case 'uws-read':
      proc = node('contenders/uws-read.js');
      break;
    case 'node-http':
      proc = node('contenders/node-hello.js');
      break;
    case 'fastify':
      proc = node('contenders/fastify-hello.js');
      break;
    case 'uws-undici':
    case 'uws-socket':
      proc = node(`contenders/${id}.js`, ['--upstream', `http://127.0.0.1:${ctx.originPort}`]);
      readyPath = '/small';
      break;
    case 'uws-undici-fields':
      proc = node('contenders/uws-undici.js', [
        '--upstream',
        `http://127.0.0.1:${ctx.originPort}`,
        '--fields=proxy',
      ]);
      readyPath = '/small';
      break;
    case 'haproxy':
    case 'caddy': {
      const bin = ctx.tools[id]?.path;
      if (!bin) return { ok: false, reason: ctx.tools[id]?.why ?? `${id} not available`, output: '' };
      const dir = path.join(ctx.tmp, id);
      mkdirSync(dir, { recursive: true });
      if (id === 'haproxy') {
        const conf = writeHaproxyConf({ dir, port, originPort: ctx.originPort, nofile: ctx.nofile });
        proc = spawnTracked(id, bin, ['-db', '-f', conf]);
      } else {
        const conf = writeCaddyConf({ dir, port, originPort: ctx.originPort });
        proc = spawnTracked(id, bin, ['run', '--adapter', 'caddyfile', '--config', conf], {
          env: { ...process.env, GOMAXPROCS: '1', HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir },
        });
      }
      readyPath = '/small';
      break;
    }
    case 'fastify-proxy':
      proc = node('contenders/fastify-proxy.js', ['--upstream', `http://127.0.0.1:${ctx.originPort}`]);
      readyPath = '/small';
      break;
    case 'nginx': {
      if (!ctx.nginxBin) return { ok: false, reason: ctx.nginxWhy ?? 'nginx not available', output: '' };
      const dir = path.join(ctx.tmp, 'nginx');
      mkdirSync(dir, { recursive: true });
      const conf = writeNginxConf({ dir, port, originPort: ctx.originPort, nofile: ctx.nofile });
      proc = spawnTracked(id, ctx.nginxBin, [
        '-p',
        dir,
        '-c',
        conf,
        '-e',
        path.join(dir, 'error.log'),
        '-g',
        'daemon off;',
      ]);
      readyPath = '/small';
      break;
    }
    case 'switchyard':
    case 'switchyard-log':
    case 'switchyard-lean':
    case 'switchyard-base':
    case 'switchyard-base-log':
    case 'switchyard-node': {
      const base = id.startsWith('switchyard-base');
      const root = base && ctx.baseline !== undefined ? ctx.baseline : ctx.root;
      const cli = path.join(root, 'dist', 'src', 'cli.js');
      if (!existsSync(cli)) {
        return {
          ok: false,
          reason: 'did not start: dist/src/cli.js does not exist (not built yet?)',
          output: '',
        };
      }
      const dir = path.join(ctx.tmp, id);
      mkdirSync(dir, { recursive: true });
      const engine = id === 'switchyard-node' ? 'node' : (ctx.engine ?? 'uws');
      const access = id.endsWith('-log') ? path.join(dir, 'access.log') : 'off';
      const lean = id === 'switchyard-lean';
      const conf = writeSwitchyardConf({ dir, port, originPort: ctx.originPort, engine, access, lean });
      proc = spawnTracked(id, process.execPath, [...(ctx.nodeFlags ?? []), cli, 'start', '-c', conf], {
        cwd: ctx.nodeCwd ?? root,
      });
      readyPath = '/hello';
      break;
    }
  }
  try {
    await waitReady(proc, port, readyPath, ctx.startTimeoutMs);
  } catch (err) {
    await stop(proc.child, 1000);
    let output = proc.output();
    if (id === 'nginx') output += errorLogTail(path.join(ctx.tmp, 'nginx', 'error.log'));
    return { ok: false, reason: `did not start: ${(err as Error).message}`, output: output.trim() };
  }
  return { ok: true, server: { id, port, pid: proc.child.pid!, proc } };
}

function errorLogTail(file: string): string {
  try {
    return `\n${readFileSync(file, 'utf8').split('\n').slice(-10).join('\n')}`;
  } catch {
    return '';
  }
}

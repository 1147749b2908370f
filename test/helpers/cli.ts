/**
 * The built CLI (dist/src/cli.js) as a child process, as users run it: one-off commands
 * (`runCliToEnd`), and a server started on a YAML config (`startCli`) with its ports, output,
 * descriptors and memory.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { packageRoot } from '../../src/config/load.js';

export const CLI = join(packageRoot, 'dist', 'src', 'cli.js');

export interface Cli {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** resolves with the exit code (or the signal name) */
  exited: Promise<number | string>;
  /** wait until stdout+stderr matches */
  waitFor(re: RegExp, ms?: number): Promise<RegExpMatchArray>;
  kill(sig?: NodeJS.Signals): void;
}

export function runCli(args: string[], env: NodeJS.ProcessEnv = {}): Cli {
  const child = spawn(process.execPath, [CLI, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const watchers = new Set<() => void>();
  child.stdout!.on('data', (c) => {
    out += c;
    for (const w of watchers) w();
  });
  child.stderr!.on('data', (c) => {
    err += c;
    for (const w of watchers) w();
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on('exit', (code, sig) => resolve(code ?? sig ?? -1)),
  );
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(re, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = (out + err).match(re);
          if (m) {
            watchers.delete(check);
            clearTimeout(t);
            resolve(m);
          }
        };
        const t = setTimeout(() => {
          watchers.delete(check);
          reject(new Error(`timed out waiting for ${re}; output:\n${out}\n${err}`));
        }, ms);
        watchers.add(check);
        void exited.then(() => setTimeout(check, 0));
        check();
      });
    },
    kill(sig = 'SIGTERM') {
      child.kill(sig);
    },
  };
}

/** Run the CLI to completion. */
export async function runCliToEnd(args: string[], env: NodeJS.ProcessEnv = {}) {
  const c = runCli(args, env);
  const code = await c.exited;
  return { code, stdout: c.stdout(), stderr: c.stderr() };
}

/** A temp file with this content; returns its path. */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-'));
  const file = join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** A free TCP port on 127.0.0.1 (bound and released). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export interface StartedCli extends Cli {
  /** the bound ports, in the order the listeners were configured */
  ports: number[];
  /** the first listener's port, and its URL */
  port: number;
  url: string;
  pid: number;
  /** the temporary directory holding the config (`@DIR@` in the YAML is replaced by it) */
  dir: string;
  /** resident set size now, bytes (from /proc) */
  rss(): number;
  /** open file descriptors now */
  fds(): number;
  /** access-log lines so far (JSON lines with a `track`, from stdout and stderr) */
  accessLog(): Record<string, unknown>[];
  /** SIGTERM, SIGKILL after 5 s, and remove the temporary directory */
  stop(): Promise<void>;
}

/**
 * `node dist/src/cli.js start -c FILE` with this YAML (after `npm run build`); `listen:` is added
 * (one listener on 127.0.0.1:0) unless given. Resolves once every listener is up (one "listening
 * on" line each, in config order), with the bound ports read from those lines.
 */
export async function startCli(yaml: string, env: NodeJS.ProcessEnv = {}): Promise<StartedCli> {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-'));
  yaml = yaml.replaceAll('@DIR@', dir);
  const text = /^listen:/m.test(yaml) ? yaml : `listen: [{ host: 127.0.0.1, port: 0 }]\n${yaml}`;
  const file = join(dir, 'switchyard.yaml');
  writeFileSync(file, text);
  const c = runCli(['start', '-c', file], env);
  // one listener per `port:` outside comment lines (conf/switchyard.yaml has commented examples)
  const count = Math.max(1, (text.replace(/^\s*#.*$/gm, '').match(/port:/g) ?? []).length);
  const listening = /"msg":"listening on [^"]*:(\d+)"/g;
  const ports = () => [...(c.stdout() + c.stderr()).matchAll(listening)].map((m) => Number(m[1]));
  try {
    await c.waitFor(new RegExp(`(listening on [^"]+"[\\s\\S]*){${count}}`), 15_000);
  } catch (err) {
    c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const pid = c.child.pid!;
  const bound = ports();
  return Object.assign(c, {
    ports: bound,
    port: bound[0]!,
    url: `http://127.0.0.1:${bound[0]}`,
    pid,
    dir,
    rss() {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      return Number(m![1]) * 1024;
    },
    fds: () => readdirSync(`/proc/${pid}/fd`).length,
    accessLog() {
      const out: Record<string, unknown>[] = [];
      for (const line of (c.stdout() + c.stderr()).split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as Record<string, unknown>;
        if ('track' in rec) out.push(rec);
      }
      return out;
    },
    async stop() {
      if (c.child.exitCode === null && c.child.signalCode === null) {
        c.kill('SIGTERM');
        const t = setTimeout(() => c.kill('SIGKILL'), 5000);
        await c.exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

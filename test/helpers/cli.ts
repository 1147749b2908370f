/**
 * Running the built CLI (dist/src/cli.js) as a child process, as users do.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
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

/** Start the CLI on a config; resolve once every listener is up, with the ports in order. */
export async function startCli(
  yaml: string,
  env: NodeJS.ProcessEnv = {},
): Promise<Cli & { ports: number[] }> {
  const file = tempFile('switchyard.yaml', yaml);
  const c = runCli(['start', '-c', file], env);
  const count = (yaml.match(/port:/g) ?? []).length;
  const ports: number[] = [];
  for (let i = 0; i < count; i++) {
    const re = /"msg":"listening on [^:]+:(\d+)"/g;
    await c.waitFor(new RegExp(`(listening on [^"]+"[\\s\\S]*){${i + 1}}`));
    ports.splice(0, ports.length, ...[...(c.stdout() + c.stderr()).matchAll(re)].map((m) => Number(m[1])));
  }
  return Object.assign(c, { ports });
}

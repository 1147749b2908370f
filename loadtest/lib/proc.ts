/** Spawning servers and load tools as tracked child processes, and reading their memory. */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { track } from './cleanup.js';

export { stop } from './cleanup.js';

const SETPRIV = ['/usr/bin/setpriv', '/bin/setpriv'].find((p) => existsSync(p));

/** Open-file limit asked for in every child; capped by the hard limit (20000 on our machines). */
export const WANT_NOFILE = 65535;

export interface Spawned {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last few KiB of the child's stdout and stderr, interleaved. */
  output(): string;
  /** `null` while running, otherwise how it ended ("code 1", "signal SIGKILL"). */
  ended(): string | null;
}

export interface SpawnOptions {
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  /** Keep at most this many bytes of output (default 16 KiB). */
  keep?: number;
}

/**
 * Starts `cmd args` through `bash -c 'ulimit -n …; exec "$@"'`, so the limit applies to the
 * program itself (exec keeps the pid). The child gets its own process group (see cleanup.ts) and
 * a stdin pipe: our Node children exit when it closes, so they do not outlive a killed bench.
 */
export function spawnTracked(name: string, cmd: string, args: string[], opts: SpawnOptions = {}): Spawned {
  // setpriv --pdeathsig: the kernel sends SIGTERM to the child if the bench dies without cleaning up
  // (SIGKILL, OOM): nginx and Switchyard do not watch their stdin as our own Node children do.
  const deathsig = SETPRIV ? `exec ${SETPRIV} --pdeathsig SIGTERM -- "$@"` : 'exec "$@"';
  const script = `ulimit -n "$0" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null; ${deathsig}`;
  const child = spawn('bash', ['-c', script, String(WANT_NOFILE), cmd, ...args], {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['pipe', 'pipe', 'pipe'],
    detached: true,
  });
  track(child);
  const keep = opts.keep ?? 16 * 1024;
  let out = '';
  const append = (chunk: Buffer) => {
    out += chunk.toString('utf8');
    if (out.length > keep * 2) out = out.slice(-keep);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  child.stdin?.on('error', () => {});
  let end: string | null = null;
  child.once('exit', (code, signal) => {
    end = signal ? `signal ${signal}` : `code ${code}`;
  });
  child.once('error', (err) => {
    end = `spawn error: ${err.message}`;
  });
  return { name, child, output: () => out.slice(-keep), ended: () => end };
}

/** Runs a command to completion and returns its exit code and output (bounded by `timeoutMs`). */
export function run(
  cmd: string,
  args: string[],
  timeoutMs: number,
  opts: { cwd?: string; input?: string } = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    track(child);
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin?.on('error', () => {});
    child.stdin?.end(opts.input ?? '');
    const timer = setTimeout(() => {
      stderr += `\n(killed after ${timeoutMs} ms)`;
      try {
        process.kill(-child.pid!, 'SIGKILL');
      } catch {}
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + err.message });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Resident memory (VmRSS) in bytes of `pid` plus all its descendants; 0 if it is gone. */
export function rssTree(pid: number): number {
  let total = 0;
  for (const p of [pid, ...descendants(pid)]) total += rssOf(p);
  return total;
}

/**
 * CPU time in µs (utime + stime, and cutime + cstime of reaped children) of `pid` plus its live
 * descendants (nginx's worker, Switchyard's pool threads are inside its process). Differences of
 * two readings over a measured step, divided by the requests, give CPU µs per request.
 */
export function cpuTreeUs(pid: number): number {
  let ticks = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      // after ')': state(0) ppid(1) … utime(11) stime(12) cutime(13) cstime(14)
      ticks += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {}
  }
  return (ticks * 1e6) / CLK_TCK;
}

/** `cpuTreeUs` split into user and kernel (system) time, µs. */
export function cpuSplitUs(pid: number): { user: number; sys: number } {
  let user = 0;
  let sys = 0;
  for (const p of [pid, ...descendants(pid)]) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      user += Number(f[11]) + Number(f[13]);
      sys += Number(f[12]) + Number(f[14]);
    } catch {}
  }
  return { user: (user * 1e6) / CLK_TCK, sys: (sys * 1e6) / CLK_TCK };
}

/** Linux's USER_HZ: /proc/PID/stat counts in these (100 on every common build). */
const CLK_TCK = 100;

function rssOf(pid: number): number {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

function descendants(root: number): number[] {
  const parent = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the ppid; the command name (field 2) may contain spaces, so parse after ')'.
      const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parent.set(Number(entry), Number(rest[1]));
    } catch {}
  }
  const out: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const [child, pp] of parent) {
      if (pp === p) {
        out.push(child);
        queue.push(child);
      }
    }
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

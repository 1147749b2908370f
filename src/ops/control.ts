/**
 * `switchyard reload | reopen | stop -c FILE`: signal the running instance named by the config's
 * pid file, as `nginx -s reload | reopen | quit` do. `reload` checks the config first and sends
 * nothing when it has problems (the running instance would refuse it anyway, and the operator
 * sees the problems here rather than in the error log).
 */
import { readFileSync, readlinkSync, realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadChecked } from '../check.js';
import { ConfigError, DEFAULT_CONFIG } from '../config/load.js';
import { alive, mayBeSwitchyard, readPidFile, pidPath as resolvePid } from './pidfile.js';

const SIGNAL = { reload: 'SIGHUP', reopen: 'SIGUSR1', stop: 'SIGTERM' } as const;

export async function signalRunning(
  command: keyof typeof SIGNAL,
  file: string,
): Promise<{ ok: boolean; message: string }> {
  let pidPath: string | undefined;
  try {
    pidPath = (await loadChecked(file)).config.pid; // as the instance will: modules imported too
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    if (command === 'reload') return { ok: false, message: `${err.message}\nnothing sent` };
    // stop / reopen: find the pid file even in a config that would not reload.
    const m = /^pid:\s*["']?([^"'\s#]+)/m.exec(readText(file));
    pidPath = m?.[1];
  }
  if (pidPath === undefined)
    return { ok: false, message: `${file}: no pid: key, so no running instance to signal` };
  pidPath = resolvePid(file, pidPath);
  const read = readPidFile(pidPath);
  if (read === 'missing') return { ok: false, message: `${pidPath}: no pid file (is switchyard running?)` };
  if (typeof read !== 'number')
    return { ok: false, message: `${pidPath}: invalid pid "${read.invalid}" (not a process id)` };
  const pid = read;
  if (!alive(pid))
    return { ok: false, message: `${pidPath}: process ${pid} is not running (stale pid file)` };
  if (!mayBeSwitchyard(pid))
    return {
      ok: false,
      message: `${pidPath}: process ${pid} is not switchyard (stale pid file, its pid since reused): nothing sent`,
    };
  // The instance re-reads the file it was started with, whatever -c says here (as nginx's master
  // does): checking one file and reloading another would report "ok" for a config never loaded.
  const running = command === 'reload' ? startedWith(pid) : undefined;
  if (running !== undefined && real(running) !== real(file))
    return {
      ok: false,
      message: `process ${pid} was started with ${running} and reloads that file, not ${resolve(file)}: nothing sent (switchyard reload -c ${running})`,
    };
  const sig = SIGNAL[command];
  process.kill(pid, sig);
  return { ok: true, message: `sent ${sig} to ${pid}` };
}

/**
 * The config file a running `switchyard start` was given (its `-c`, resolved against its working
 * directory; the default config without one), from /proc. Undefined when that cannot be told.
 */
function startedWith(pid: number): string | undefined {
  let args: string[];
  let cwd: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    cwd = readlinkSync(`/proc/${pid}/cwd`);
  } catch {
    return undefined;
  }
  const at = args.indexOf('start');
  if (at === -1) return undefined;
  for (let i = at + 1; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '-c' || a === '--config') && args[i + 1] !== undefined) return resolve(cwd, args[i + 1]!);
    if (a.startsWith('--config=')) return resolve(cwd, a.slice(9));
  }
  return DEFAULT_CONFIG;
}

/** A path with its links resolved (resolved as written, when it cannot be). */
function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

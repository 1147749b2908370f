/**
 * `switchyard reload | reopen | stop -c FILE`: signal the running instance named by the config's
 * pid file, as `nginx -s reload | reopen | quit` do. `reload` checks the config first and sends
 * nothing when it has problems (the running instance would refuse it anyway, and the operator
 * sees the problems here rather than in the error log).
 */
import { readFileSync } from 'node:fs';
import { loadChecked } from '../check.js';
import { ConfigError } from '../config/load.js';
import { alive, readPid, pidPath as resolvePid } from './pidfile.js';

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
  const pid = readPid(pidPath);
  if (pid === undefined) return { ok: false, message: `${pidPath}: no pid file (is switchyard running?)` };
  if (!alive(pid))
    return { ok: false, message: `${pidPath}: process ${pid} is not running (stale pid file)` };
  const sig = SIGNAL[command];
  process.kill(pid, sig);
  return { ok: true, message: `sent ${sig} to ${pid}` };
}

function readText(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

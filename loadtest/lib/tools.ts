/** Finding (and, when allowed, installing from Debian) the external programs the bench drives. */
import { accessSync, constants } from 'node:fs';
import path from 'node:path';
import { run } from './proc.js';

/** Full path of `cmd` on PATH (plus the sbin directories, where Debian puts nginx), or null. */
export function which(cmd: string): string | null {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const full = path.join(dir, cmd);
    try {
      accessSync(full, constants.X_OK);
      return full;
    } catch {}
  }
  return null;
}

let updated = false;

/**
 * Returns the path of `cmd`, installing Debian package `pkg` first if it is missing and we may
 * (root, `install` true). Never throws: on failure `path` is null and `why` says what happened.
 */
export async function ensureTool(
  cmd: string,
  pkg: string,
  install: boolean,
  log: (line: string) => void,
): Promise<{ path: string | null; why?: string }> {
  const found = which(cmd);
  if (found) return { path: found };
  if (!install) return { path: null, why: `${cmd} not found and --no-install was given` };
  if (process.getuid?.() !== 0)
    return { path: null, why: `${cmd} not found (apt-get install -y ${pkg} as root)` };
  if (!which('apt-get')) return { path: null, why: `${cmd} not found and there is no apt-get` };
  if (!updated) {
    log(`installing ${pkg}: apt-get update …`);
    const up = await run('apt-get', ['update', '-qq'], 300_000);
    if (up.code !== 0) return { path: null, why: `apt-get update failed: ${tail(up.stderr)}` };
    updated = true;
  }
  log(`installing ${pkg}: apt-get install -y ${pkg} …`);
  const res = await run('apt-get', ['install', '-y', '-qq', pkg], 300_000);
  const now = which(cmd);
  if (now) return { path: now };
  return {
    path: null,
    why: `apt-get install ${pkg} failed (code ${res.code}): ${tail(res.stderr || res.stdout)}`,
  };
}

/** First line of `cmd -v`-style version output (nginx prints it on stderr). */
export async function versionOf(bin: string, args: string[]): Promise<string> {
  const res = await run(bin, args, 5000);
  return (res.stdout + res.stderr).split('\n')[0]?.trim() ?? '';
}

function tail(s: string): string {
  return s.trim().split('\n').slice(-3).join(' | ');
}

/**
 * The pid file (`pid:` in the config), as nginx keeps one: written at start, removed at exit, read
 * by `switchyard reload | reopen | stop` to signal the running instance. A start that finds the
 * file naming a live process refuses (two instances would otherwise share the port: uWS's
 * exclusive listen covers only its own listeners); a stale file (process gone) is replaced.
 */
import { mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** A `pid:` value as a path: relative to the config file's directory, like `routes_dir`. */
export function pidPath(configFile: string, pid: string): string {
  return resolve(dirname(configFile), pid);
}

/** The pid in `file`, or undefined when there is none (missing, empty, not a number). */
export function readPid(file: string): number | undefined {
  const r = readPidFile(file);
  return typeof r === 'number' ? r : undefined;
}

/** The pid in `file`; 'missing' when there is no file; the text itself when it is not a pid. */
export function readPidFile(file: string): number | 'missing' | { invalid: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return 'missing';
  }
  const t = text.trim();
  return /^[1-9][0-9]{0,9}$/.test(t) ? Number(t) : { invalid: t.slice(0, 40) };
}

/** Is a process with this pid alive (and ours to signal)? */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Can `pid` be a `switchyard start`? A pid file left behind by a KILL or a crash names a pid the
 * kernel may since have given to another program, which must be neither signalled nor taken for a
 * running instance. Only a command line without `start` rules it out; where /proc cannot be read,
 * it is taken to be one.
 */
export function mayBeSwitchyard(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('start');
  } catch {
    return true;
  }
}

export class PidFile {
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /** Write our pid to `file`; throws when a live process other than us holds it. */
  static claim(file: string): PidFile {
    const path = resolve(file);
    const other = readPid(path);
    if (other !== undefined && other !== process.pid && alive(other) && mayBeSwitchyard(other)) {
      throw new Error(`pid file ${path}: another instance is running (pid ${other})`);
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, `${process.pid}\n`);
    return new PidFile(path);
  }

  /** Remove the file if it still names us (a newer instance may have claimed it). */
  release(): void {
    if (readPid(this.path) !== process.pid) return;
    try {
      unlinkSync(this.path);
    } catch {
      // already gone
    }
  }
}

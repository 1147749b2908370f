/**
 * Every child process the bench starts is registered here and killed when the bench exits, however
 * it exits: normal end, an error, Ctrl-C or SIGTERM. Children are spawned detached (their own
 * process group) so that a kill reaches grandchildren too — nginx's worker survives a SIGKILL of
 * its master otherwise.
 */
import type { ChildProcess } from 'node:child_process';

const live = new Set<ChildProcess>();
let installed = false;

/** Registers `child` (spawned with `detached: true`) to be killed on exit. */
export function track(child: ChildProcess): ChildProcess {
  install();
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Sends `signal` to the child's whole process group; never throws. */
export function killGroup(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {}
  }
}

/** Stops a child: SIGTERM to its group, SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stop(child: ChildProcess, graceMs = 3000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  killGroup(child, 'SIGTERM');
  const timer = setTimeout(() => killGroup(child, 'SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
  // The leader is gone; take any straggler in its group with it.
  killGroup(child, 'SIGKILL');
}

/** Kills everything still registered, synchronously (usable from `process.on('exit')`). */
export function killAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}, stopping children\n`);
      killAll();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (err) => {
    process.stderr.write(`bench: ${err.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (err) => {
    process.stderr.write(`bench: unhandled rejection: ${(err as Error)?.stack ?? err}\n`);
    killAll();
    process.exit(1);
  });
}

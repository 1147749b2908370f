/**
 * Imported first by the CLI, before any other module runs: from here on SIGUSR1 never starts
 * Node's inspector (its default: a debugger on 127.0.0.1:9229, a code-execution port for every
 * local user) and SIGHUP never kills the process (its default), even while the server is still
 * starting. signals.ts replaces these with the real handlers once the server is up. What remains
 * is the window between exec and this module (Node's own start-up), which JavaScript cannot close
 * on Node 20 (Node 22.14+ has --disable-sigusr1).
 */
const early: [NodeJS.Signals, () => void][] = [
  ['SIGUSR1', () => {}],
  ['SIGHUP', () => {}],
];
for (const [sig, fn] of early) process.on(sig, fn);

/** Remove the start-up handlers (the server's own are installed). */
export function releaseEarlySignals(): void {
  for (const [sig, fn] of early) process.off(sig, fn);
}

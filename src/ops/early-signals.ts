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

/** A stop signal that came while `start` was still starting, kept for the server's own handler. */
let pendingStop: NodeJS.Signals | undefined;
const holdStop = (sig: NodeJS.Signals) => {
  pendingStop ??= sig;
};
const STOPS = ['SIGTERM', 'SIGINT', 'SIGQUIT'] as const;

/**
 * For `start` only: from here until the server's handlers are installed, TERM/INT/QUIT are held
 * rather than killing the process at their default action (no drain, the pid file left behind);
 * the server then stops as if it had just received the first one. Other commands keep the
 * defaults, so Ctrl-C ends a `check` at once.
 */
export function holdStopSignals(): void {
  for (const sig of STOPS) process.on(sig, holdStop);
}

/** Remove the start-up handlers (the server's own are installed); the stop signal held, if any. */
export function releaseEarlySignals(): NodeJS.Signals | undefined {
  for (const [sig, fn] of early) process.off(sig, fn);
  for (const sig of STOPS) process.off(sig, holdStop);
  return pendingStop;
}

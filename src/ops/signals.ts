/**
 * The signals a server must own (nginx's set, README "Operating"):
 *
 * - TERM, INT, QUIT: graceful stop — readiness fails at once, requests are served on for
 *   `shutdown.delay`, then the drain (stop accepting, in-flight requests finish within
 *   `shutdown.grace`); exit 0. A second TERM/INT/QUIT exits at once (1).
 * - HUP: reload the config (src/ops/reload.ts); never exits.
 * - USR1: reopen the log files (log rotation); never starts the inspector.
 * - USR2, WINCH: nginx's binary upgrade and worker stop have no equivalent here: logged, ignored.
 *
 * An uncaught exception logs its error line (fatal), writes out every log line held and exits 1;
 * an unhandled rejection is one (Node's default mode turns it into an uncaught exception).
 * Every exit path closes the logs first, so no line is lost.
 */
import type { Started } from '../main.js';
import { releaseEarlySignals } from './early-signals.js';

export function ownSignals(started: Started): void {
  const { server } = started;
  const log = server.logs.error;
  let exiting = false;
  const exit = (code: number) => {
    if (exiting) return;
    exiting = true;
    started.releasePid();
    const t = setTimeout(() => process.exit(code), 3000); // logs that cannot be written must not hold the exit
    t.unref();
    void server.logs.close().finally(() => process.exit(code));
  };

  let signalled = false;
  const onStop = (sig: NodeJS.Signals) => {
    if (signalled) {
      log.warn({ signal: sig }, 'second signal: exiting now');
      server.pipeline.abandon();
      exit(1);
      return;
    }
    signalled = true;
    const stopping = started.stop(); // with no delay, stops accepting synchronously, before anything else
    log.info({ signal: sig }, 'draining');
    stopping.then(
      () => {
        log.info('drained, exiting');
        exit(0);
      },
      (err: unknown) => {
        log.error({ err }, 'drain failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', onStop);
  process.on('SIGINT', onStop);
  process.on('SIGQUIT', onStop);
  process.on('SIGHUP', () => {
    if (signalled) return;
    log.info({ signal: 'SIGHUP' }, 'reload requested');
    void started.reload();
  });
  process.on('SIGUSR1', () => {
    if (server.logs.reopen()) log.info({ signal: 'SIGUSR1' }, 'log files reopened');
    else
      log.warn({ signal: 'SIGUSR1' }, 'log files reopened but those named above, which keep their old file');
  });
  for (const sig of ['SIGUSR2', 'SIGWINCH'] as const) {
    process.on(sig, () => log.warn({ signal: sig }, `${sig} ignored (see README "Operating")`));
  }
  const held = releaseEarlySignals();
  if (held !== undefined) onStop(held);

  process.on('uncaughtException', (err, origin) => {
    try {
      log.fatal({ err, origin }, `uncaught exception, exiting: ${err?.message ?? String(err)}`);
    } catch {
      // the log itself failed: exit anyway
    }
    exit(1);
  });
  process.on('exit', () => server.logs.flush());
}

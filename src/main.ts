/**
 * Boot: load config → build → listen; SIGTERM/SIGINT drain (a second signal exits at once);
 * SIGUSR1 owned (never Node's inspector).
 */
import { configWarnings, loadChecked } from './check.js';
import { Server } from './server.js';

export interface Started {
  server: Server;
  stop(): Promise<void>;
}

/** The server SIGUSR1 acts on, once built. */
let usr1Target: Server | undefined;

/**
 * Own SIGUSR1 before anything else: Node's default for it opens the inspector on 127.0.0.1:9229 —
 * code execution for every local user — and logrotate's usual `postrotate` sends exactly this
 * signal. Any JS listener replaces that default (checked on Node 20: test/signals.test.ts).
 */
function ownUsr1(): void {
  if (process.listenerCount('SIGUSR1') > 0) return;
  process.on('SIGUSR1', () => {
    if (usr1Target !== undefined) onUsr1(usr1Target);
  });
}

/** SIGUSR1, as in nginx: reopen log files. The hook for log reopening; for now it only says so. */
function onUsr1(server: Server): void {
  server.logs.error.info({ signal: 'SIGUSR1' }, 'SIGUSR1: log reopening is not implemented yet');
}

export async function start(file: string): Promise<Started> {
  ownUsr1();
  const loaded = await loadChecked(file); // as `switchyard check`: modules imported, problems named
  const server = await Server.build(loaded);
  usr1Target = server;
  try {
    await server.listen();
  } catch (err) {
    await server.drain(0).catch(() => {});
    throw err;
  }
  // The runtime reports errors nobody awaited (a pick loser that failed for real) as warnings.
  process.on('warning', (w) => {
    server.logs.error.warn({ code: (w as { code?: string }).code, err: w }, `process warning: ${w.name}`);
  });
  for (const w of configWarnings(loaded)) server.logs.error.warn(`${loaded.file}: ${w}`);
  const fallback = server.listening.find((l) => l.fallback !== undefined)?.fallback;
  if (fallback !== undefined) {
    server.logs.error.warn(
      { engine: 'node', reason: fallback },
      `engine: node is the default here: uWebSockets.js cannot load on Node ${process.version} (see reason)`,
    );
  }
  for (const l of server.listening) {
    server.logs.error.info(
      { listen: `${l.host}:${l.port}`, kind: l.kind, tls: l.tls === true, engine: l.engine },
      `listening on ${l.host}:${l.port}`,
    );
  }
  let stopping: Promise<void> | undefined;
  const stop = () => (stopping ??= server.drain());
  return { server, stop };
}

/** Install signal handlers: first SIGTERM/SIGINT drains and exits 0, a second exits at once. */
export function exitOnSignals(started: Started): void {
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (signalled) {
      started.server.logs.error.warn({ signal: sig }, 'second signal: exiting now');
      started.server.logs.flush();
      process.exit(1);
    }
    signalled = true;
    const stopping = started.stop(); // stops accepting synchronously, before anything else
    started.server.logs.error.info({ signal: sig }, 'draining');
    stopping.then(
      () => {
        started.server.logs.error.info('drained, exiting');
        started.server.logs.flush();
        process.exit(0);
      },
      (err: unknown) => {
        started.server.logs.error.error({ err }, 'drain failed');
        started.server.logs.flush();
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

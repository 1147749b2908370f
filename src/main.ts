/**
 * Boot: load config → claim the pid file → build → listen → ready. Signals (src/ops/signals.ts):
 * TERM/INT/QUIT drain (a second one exits at once), HUP reload, USR1 reopen the log files.
 */
import { configWarnings, loadChecked } from './check.js';
import { PidFile, pidPath } from './ops/pidfile.js';
import { Reloader } from './ops/reload.js';
import { Server } from './server.js';

export interface Started {
  server: Server;
  /** Readiness fails at once; after `shutdown.delay` the drain starts. Idempotent. */
  stop(): Promise<void>;
  /** Re-read the config file (see src/ops/reload.ts); resolves true when it is in force. */
  reload(): Promise<boolean>;
  /** Remove the pid file (if it still names us). */
  releasePid(): void;
}

export async function start(file: string): Promise<Started> {
  const loaded = await loadChecked(file); // as `switchyard check`: modules imported, problems named
  const pid =
    loaded.config.pid === undefined ? undefined : PidFile.claim(pidPath(loaded.file, loaded.config.pid));
  let server: Server;
  try {
    server = await Server.build(loaded);
  } catch (err) {
    pid?.release();
    throw err;
  }
  try {
    await server.listen();
  } catch (err) {
    await server.drain(0).catch(() => {});
    pid?.release();
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
  const reloader = new Reloader(server, pid);
  let stopping: Promise<void> | undefined;
  const stop = () => {
    if (stopping !== undefined) return stopping;
    server.setReadiness('draining');
    const delay = server.current.config.shutdown.delay;
    if (delay === 0) return (stopping = server.drain()); // stops accepting synchronously
    server.logs.error.info({ delay_ms: delay }, 'readiness failing; serving on until the drain');
    stopping = new Promise<void>((r) => setTimeout(r, delay)).then(() => server.drain());
    return stopping;
  };
  return { server, stop, reload: () => reloader.reload(), releasePid: () => reloader.pid?.release() };
}

export { ownSignals as exitOnSignals } from './ops/signals.js';

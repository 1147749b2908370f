/**
 * An acceptor thread (`threads: N`): its own engine on the shared ports, its own pipeline, route
 * table and upstream pools, built by the same `Server.build` as the single-thread server — with
 * what the supervisor owns handed in: the job pool (over a MessagePort, jobs.ts), the shared
 * regions (the same memory in every thread), and log lines relayed whole (log-relay.ts).
 *
 * Runs as a worker thread's entry module; it imports the built JavaScript (dist/), like pool
 * workers. An uncaught exception here ends this thread only: the supervisor logs it and starts a
 * replacement (supervisor.ts).
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { createLogs } from '../observe/log.js';
import type { ServerViews } from '../observe/views.js';
import { JobPool } from '../pool/index.js';
import { SharedRegion } from '../region/region.js';
import { RouteTable } from '../router/table.js';
import { Server } from '../server.js';
import * as hub from '../tracks/websocket/hub.js';
import { RemoteJobs } from './jobs.js';
import { relayStream } from './log-relay.js';
import type { AcceptorInit, FromAcceptor, ToAcceptor } from './messages.js';
import { ScrapeClient } from './scrape.js';

const init = workerData as AcceptorInit;
const port = parentPort!;
const post = (m: FromAcceptor) => port.postMessage(m);

let server: Server | undefined;
let logs: ReturnType<typeof createLogs> | undefined;

/**
 * An uncaught exception ends this thread, never the process: log it, close every socket (uWS
 * sockets left open when a thread exits abort the process), exit; the supervisor replaces us.
 * Requests in flight on this thread are lost with it (their connections are closed).
 */
let crashing = false;
process.on('uncaughtException', (err) => {
  if (crashing) return; // a continuation failing on the closed sockets: already on the way out
  crashing = true;
  try {
    logs?.error.fatal({ err }, `acceptor thread ${init.index} crashed: uncaught exception`);
    logs?.flush();
    server?.closeNow();
  } finally {
    // One turn for the last log lines to leave: a message posted just before process.exit() in a
    // worker can be dropped (seen in test/threads/threads.test.ts, the crash's own access line).
    setTimeout(() => process.exit(1), 20);
  }
});

async function main(): Promise<void> {
  const { loaded } = init;
  const errorRelay = relayStream(port, 'error');
  const accessRelay = relayStream(port, 'access');
  const l = createLogs(loaded.config.log, { error: errorRelay, access: accessRelay });
  logs = l;
  // Which thread wrote a line (bindings are serialised once, not per line).
  l.error = l.error.child({ thread: init.index });
  if (l.access !== null) l.access = l.access.child({ thread: init.index });
  l.flush = () => {
    errorRelay.flushNow();
    accessRelay.flushNow();
  };

  const local = await JobPool.start(loaded.config, loaded.routesDir, l); // inline jobs only; starts no thread
  let s: Server;
  try {
    s = await Server.build(loaded, {
      logs: l,
      jobs: new RemoteJobs(init.jobs, local),
      shared: SharedRegion.attach(init.shared),
      table: { region: SharedRegion.attach(init.table), share: { index: init.index, of: init.of } },
      sharedPort: true,
    });
    server = s;
    const listening = await s.listen();
    post({ type: 'listening', ports: listening.filter((l) => l.kind === 'http') });
  } catch (err) {
    l.flush();
    server?.closeNow();
    post({ type: 'failed', message: (err as Error).message });
    // End the thread (its job port would keep it alive): the supervisor retries a replacement.
    setTimeout(() => process.exit(1), 20);
    return;
  }
  l.error.debug({ threadId }, 'acceptor ready');
  hub.relayTo((data) => post({ type: 'relay', data }));
  const scrape = new ScrapeClient(port);
  (s.services.views as ServerViews).delegateTo(scrape.scrape);
  const here = {
    snapshot: () => {
      s.pipeline.routes.services.upstreams.refreshPeers();
      return s.services.stats.snapshot();
    },
    inflight: () => s.pipeline.inflight.size,
    setReadiness: (state: 'starting' | 'ready' | 'draining') => {
      s.pipeline.readiness.state = state;
    },
  };

  port.on('message', (m: ToAcceptor) => {
    if (scrape.handle(m, here)) return;
    if (m.type === 'drain') {
      s.drain(m.grace).then(
        () => {
          l.flush();
          post({ type: 'drained' });
        },
        (err: unknown) => {
          l.error.error({ err }, 'drain failed');
          s.closeNow();
          l.flush();
          post({ type: 'drained' });
        },
      );
    } else if (m.type === 'reload') {
      // Compile beside the old table, swap, retire the old once its requests finish.
      RouteTable.compile(m.loaded, s.services, {
        region: SharedRegion.attach(m.table),
        share: { index: init.index, of: init.of },
      })
        .then(async (table) => {
          // New certificates for this thread's TLS listeners (they are this thread's sockets).
          await s.reloadTls(m.loaded).catch((err: unknown) => {
            void table.close();
            throw err;
          });
          s.adopt(m.loaded);
          return table;
        })
        .then(
          (table) => {
            void s.pipeline.use(table).retire();
            l.error.level = m.loaded.config.log.level;
            post({ type: 'reloaded', seq: m.seq });
          },
          (err: unknown) => post({ type: 'reloaded', seq: m.seq, error: (err as Error).message }),
        );
    } else if (m.type === 'relay') {
      const r = m.data as hub.Relayed;
      hub.deliverLocal(r.topic, r.data);
    } else if (m.type === 'close') {
      s.closeNow();
      l.flush();
      setTimeout(() => process.exit(0), 20); // let the last lines leave (see the crash handler)
    }
  });
}

void main();

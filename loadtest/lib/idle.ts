/**
 * Memory per idle keep-alive connection: RSS of each server before and after a child process opens
 * N connections to it (one request each, then idle). uWS closes idle connections after about 10 s
 * (not configurable in this version), so the "after" reading is taken right after the last one is
 * open, and the number still open at that moment is what the difference is divided by.
 */
import path from 'node:path';
import { LABELS } from '../contenders/index.js';
import { runLoad } from './load.js';
import { rssTree, type Spawned, sleep, spawnTracked, stop } from './proc.js';
import { type RunEnv, serverOf } from './runenv.js';
import { IDLE, type IdleResult, type IdleRow } from './scenarios.js';

export async function runIdle(env: RunEnv): Promise<IdleResult> {
  const target = env.opts.idleConnections;
  const rows: IdleRow[] = [];
  for (const id of IDLE.contenders) {
    const row: IdleRow = { server: id, label: LABELS[id], status: 'ok' };
    rows.push(row);
    const s = serverOf(env, id);
    if (!s.ok) {
      Object.assign(row, { status: s.status, reason: s.reason });
      env.log(`  idle: ${row.label} — ${row.reason}`);
      continue;
    }
    const pid = s.server.pid;
    // Warm the request path first, so that "before" already holds the JIT-compiled code and the heap
    // a served request leaves behind, and the difference is the connections themselves.
    try {
      await runLoad(
        env.tool,
        {
          url: `http://127.0.0.1:${s.server.port}${IDLE.path}`,
          connections: 10,
          threads: 1,
          method: 'GET',
          durationSec: 1,
        },
        env.tmp,
      );
    } catch {}
    await sleep(500);
    row.rssBefore = rssTree(pid);
    const client = spawnTracked('idle-client', process.execPath, [
      path.join(env.distLoadtest, 'idle-client.js'),
      '--port',
      String(s.server.port),
      '--count',
      String(target),
      '--path',
      IDLE.path,
      '--max-seconds',
      '180',
    ]);
    try {
      const ready = JSON.parse(await waitLine(client, 'IDLE_READY ', 120_000)) as {
        opened: number;
        failed: number;
        errors: Record<string, number>;
      };
      await sleep(300);
      row.rssAfter = rssTree(pid);
      client.child.stdin?.write('count\n');
      const count = JSON.parse(await waitLine(client, 'IDLE_COUNT ', 10_000)) as { open: number };
      Object.assign(row, { opened: ready.opened, failed: ready.failed, stillOpen: count.open });
      if (count.open > 0) row.perConnection = (row.rssAfter - row.rssBefore) / count.open;
      if (ready.failed > 0) row.reason = `failed to open: ${JSON.stringify(ready.errors)}`;
      env.log(
        `  idle         ${row.label.padEnd(30)} ${count.open}/${target} open  RSS ${mib(row.rssBefore)} → ` +
          `${mib(row.rssAfter)} MiB  ${row.perConnection === undefined ? '—' : (row.perConnection / 1024).toFixed(2)} KiB/conn` +
          (ready.failed > 0 ? `  (${ready.failed} failed: ${JSON.stringify(ready.errors)})` : ''),
      );
    } catch (err) {
      Object.assign(row, { status: 'failed', reason: (err as Error).message });
      env.log(`  idle: ${row.label} failed: ${row.reason}`);
    } finally {
      client.child.stdin?.end();
      await stop(client.child, 5000);
    }
    // Let the server notice the closes before the next measurement.
    await sleep(1000);
  }
  const ref = rows.find((r) => r.server === IDLE.reference)?.perConnection;
  for (const row of rows) {
    if (row.perConnection !== undefined && ref !== undefined && ref > 0)
      row.vsReference = row.perConnection / ref;
  }
  return {
    kind: 'idle',
    id: 'idle',
    title: IDLE.title,
    what: IDLE.what,
    target,
    reference: IDLE.reference,
    rows,
  };
}

/** Resolves with the rest of the first stdout line that starts with `prefix`. */
function waitLine(proc: Spawned, prefix: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (chunk: Buffer) => {
      buf += chunk.toString();
      for (const line of buf.split('\n')) {
        if (line.startsWith(prefix) && buf.includes(`${line}\n`)) {
          done();
          resolve(line.slice(prefix.length));
          return;
        }
      }
    };
    const onExit = () => {
      done();
      reject(new Error(`idle client exited (${proc.ended()}): ${proc.output().trim().slice(-500)}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`no ${prefix.trim()} from the idle client in ${timeoutMs} ms`));
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      proc.child.stdout?.off('data', onData);
      proc.child.off('exit', onExit);
    };
    proc.child.stdout?.on('data', onData);
    proc.child.once('exit', onExit);
  });
}

function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

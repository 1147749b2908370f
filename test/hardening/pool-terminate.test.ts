/**
 * A job aborted while its worker was still importing the job's module terminated the worker in
 * the middle of that import, and a descriptor the import had open was never closed (found by
 * test/hardening/leaks.test.ts under load: the job module's own file, one descriptor per such
 * abort: an open in flight in the thread pool when the worker is terminated is never closed).
 * Workers now import every job before they take a task, so an abort at that moment drops a queued
 * task instead. The job here opens its own file over and over while its module loads, to make the
 * moment wide and the leak likely.
 */
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROUTES } from '../helpers/paths.js';
import { openRequest } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { settle, until } from '../helpers/wait.js';

/** The job module; every import of it appends `start` and `end` lines to `log`. */
const hold = (log: string) => `import { appendFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
appendFileSync(${JSON.stringify(log)}, 'start\\n');
// for 400 ms while the module loads, opens and closes its own file over and over: an open is in
// flight in the thread pool at almost any moment (as the loader's own reads are, briefly)
const end = Date.now() + 400;
while (Date.now() < end) await (await open(fileURLToPath(import.meta.url))).close();
appendFileSync(${JSON.stringify(log)}, 'end\\n');
export default function holdfile() {
  return 'ok';
}
`;

/** How many imports of the job module have started, and how many have finished. */
function imports(log: string): { started: number; ended: number } {
  const text = existsSync(log) ? readFileSync(log, 'utf8') : '';
  return { started: text.split('start').length - 1, ended: text.split('end').length - 1 };
}

/** This process's descriptors that point at `file` (workers share the process's table). */
function openOn(file: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === file) n++;
    } catch {}
  }
  return n;
}

describe('a job aborted while its worker starts', () => {
  let s: TestServer;
  let dir: string;
  let job: string;
  let log: string;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sy-hold-'));
    mkdirSync(join(dir, 'jobs'));
    job = join(dir, 'jobs', 'holdfile.js');
    log = join(dir, 'imports.log');
    writeFileSync(job, hold(log));
    writeFileSync(join(dir, 'jobs', 'spin.js'), 'export default function spin() {\n  for (;;);\n}\n');
    writeFileSync(
      join(dir, 'job.js'),
      `export { default } from ${JSON.stringify(join(ROUTES, 'job.js'))};\n`,
    );
    s = await startServer(`
pool: { threads: 1, queue: 4 }
routes_dir: ${dir}
routes:
  - { path: "/job/:name", handler: job }
`);
  });
  afterAll(async () => {
    await s?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('leaves no descriptor behind', async () => {
    // the main thread's own import (start-up validation) has closed its file by now
    await until(() => openOn(job) === 0, 'the start-up import to finish');
    // A running job aborted: its worker is terminated and a replacement starts. (The pool's very
    // first worker is handed tasks before it is ready — piscina marks its initial workers ready
    // at once — so the window stays open there, once per pool.)
    const spin = await openRequest(s.port, '/job/spin');
    await until(() => s.pool.stats().running === 1, 'the spin job to run');
    spin.destroy();
    await until(() => s.pool.stats().running === 0, 'the spin job to be cancelled');
    // a job for the replacement, abandoned while that worker imports the job module
    const sock = await openRequest(s.port, '/job/holdfile');
    // (the first import is the main thread's start-up check; the next, the replacement worker's)
    await until(() => imports(log).started > 1, 'the replacement worker to import the job');
    sock.destroy();
    await until(() => s.pool.stats().cancelled === 2, 'the job to be cancelled');
    // every import has run to its end (none is opening the file any more): then nothing may hold it
    await until(() => imports(log).ended === imports(log).started, 'the imports to finish');
    expect(await settle(() => openOn(job), { target: (n) => n === 0 })).toBe(0);
  });
});

/**
 * The job registry: every `<routesDir>/jobs/NAME.js` (compiled from routes/jobs/NAME.ts) is the
 * job NAME. Discovered once at start-up; each module is imported on the main thread there, so a
 * module that fails to load or does not default-export a function is a start-up error naming its
 * file (as handler modules are), and `inline: true` routes have the function at hand.
 *
 * Importing on the main thread runs only the module's top level, never the job.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { importModule } from '../import-module.js';
import { moduleUrl } from '../module-url.js';

/** A job: structured-cloneable input → output, possibly async. Runs in a worker thread. */
export type JobFn = (input: any) => unknown;

export interface JobEntry {
  readonly name: string;
  /** file URL of the compiled module (what the workers import) */
  readonly url: string;
  /** the default export, loaded on the main thread (for `inline` and validation) */
  readonly fn: JobFn;
}

const JOB_FILE = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)\.js$/;

/** Import a job module and return its default export, or throw naming the file. */
export async function loadJob(url: string): Promise<JobFn> {
  const mod = await importModule(url); // a failure names the file and line
  if (typeof mod.default !== 'function') {
    throw new Error(`${url.split('?')[0]}: a job module must default-export a function (input) => output`);
  }
  return mod.default as JobFn;
}

/** Every job module in `<routesDir>/jobs/` by name (empty when the folder does not exist). */
export async function discoverJobs(routesDir: string): Promise<Map<string, JobEntry>> {
  const dir = join(routesDir, 'jobs');
  let files: string[];
  try {
    files = readdirSync(dir).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
    throw err;
  }
  const jobs = new Map<string, JobEntry>();
  for (const f of files) {
    const m = JOB_FILE.exec(f);
    if (m === null) continue; // .js.map, .d.ts, READMEs
    const name = m[1]!;
    const url = moduleUrl(join(dir, f)); // content-versioned: a reload loads a changed job fresh
    jobs.set(name, { name, url, fn: await loadJob(url) });
  }
  return jobs;
}

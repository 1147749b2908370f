// Probes of piscina 5 that docs/piscina.md relies on. Run: node docs/probes/piscina.mjs
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Piscina } from 'piscina';

const say = (k, v) => console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
const dir = mkdtempSync(join(tmpdir(), 'piscina-probe-'));
const file = join(dir, 'worker.mjs');
writeFileSync(
  file,
  `import { parentPort } from 'node:worker_threads';
   export default function (task) {
     if (task.burn) { const end = Date.now() + task.burn; while (Date.now() < end); return 'done'; }
     return task.n ?? 0;
   }`,
);
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;

const defaults = new Piscina({ filename: file });
say('defaults', {
  minThreads: defaults.options.minThreads,
  maxThreads: defaults.options.maxThreads,
  idleTimeout: defaults.options.idleTimeout,
  maxQueue: String(defaults.options.maxQueue),
});
await defaults.destroy();

// idleTimeout 0: a thread beyond minThreads exits as soon as it is idle, and is created again.
for (const idleTimeout of [0, 30_000]) {
  const p = new Piscina({ filename: file, minThreads: 1, maxThreads: 2, idleTimeout });
  let created = 0;
  p.on('workerCreate', () => created++);
  for (let i = 0; i < 20; i++) {
    await Promise.all([p.run({ burn: 5 }), p.run({ burn: 5 })]);
    await new Promise((r) => setTimeout(r, 20));
  }
  say(`threads created over 20 bursts of two tasks, idleTimeout ${idleTimeout}`, created);
  await p.destroy();
}

const pool = new Piscina({ filename: file, minThreads: 2, maxThreads: 2, idleTimeout: 30_000 });
await Promise.all([pool.run({}), pool.run({})]);
// Round trip of a trivial task, one at a time, then many in flight.
let t0 = process.hrtime.bigint();
for (let i = 0; i < 2000; i++) await pool.run({ n: i });
say('sequential round trip of a trivial task (µs)', Math.round((ms(t0) * 1000) / 2000));
t0 = process.hrtime.bigint();
const M = 20_000;
let done = 0;
await new Promise((resolve) => {
  let sent = 0;
  const next = () => {
    if (sent === M) return;
    sent++;
    pool.run({ n: sent }).then(() => (++done === M ? resolve() : next()));
  };
  for (let i = 0; i < 64; i++) next();
});
say('trivial tasks per second, 64 in flight, 2 workers', Math.round(M / (ms(t0) / 1000)));

// Aborting a running task: when does the caller hear, when is a worker back?
for (let round = 0; round < 3; round++) {
  const ac = new AbortController();
  const threadsBefore = pool.threads.map((w) => w.threadId);
  const p = pool.run({ burn: 5000 }, { signal: ac.signal });
  await new Promise((r) => setTimeout(r, 50));
  const ta = process.hrtime.bigint();
  ac.abort();
  const rejected = await p.then(
    () => 'resolved',
    (e) => e.name,
  );
  const afterReject = ms(ta);
  while (pool.threads.length < 2 || pool.threads.every((w) => threadsBefore.includes(w.threadId)))
    await new Promise((r) => setTimeout(r, 1));
  await Promise.all([pool.run({}), pool.run({})]);
  say(
    `abort a running task, round ${round + 1}`,
    `${rejected} after ${afterReject.toFixed(1)} ms; a replacement thread exists; both threads answer ${(ms(ta)).toFixed(0)} ms after the abort`,
  );
}

// Does the burn stop? Process CPU time over 300 ms while a task burns, then after its abort.
{
  const cpuMs = async (span) => {
    const c0 = process.cpuUsage();
    await new Promise((r) => setTimeout(r, span));
    const c = process.cpuUsage(c0);
    return Math.round((c.user + c.system) / 1000);
  };
  const ac = new AbortController();
  const p = pool.run({ burn: 10_000 }, { signal: ac.signal }).catch(() => {});
  await new Promise((r) => setTimeout(r, 50));
  const during = await cpuMs(300);
  ac.abort();
  await p;
  await new Promise((r) => setTimeout(r, 200)); // let the replacement thread boot
  const after = await cpuMs(300);
  say('process CPU ms in 300 ms: a task burning, then after its abort', [during, after]);
}

// maxQueue does not count tasks that carry a signal.
const small = new Piscina({ filename: file, minThreads: 1, maxThreads: 1, maxQueue: 2 });
await small.run({});
const outcomes = await Promise.allSettled(
  Array.from({ length: 6 }, () => small.run({ burn: 50 }, { signal: new AbortController().signal })),
);
say(
  'maxQueue 2, one thread, six tasks with a signal',
  outcomes.map((o) => (o.status === 'fulfilled' ? 'ran' : o.reason.message)),
);
const plain = await Promise.allSettled(Array.from({ length: 6 }, () => small.run({ burn: 50 })));
say(
  'maxQueue 2, one thread, six tasks without a signal',
  plain.map((o) => (o.status === 'fulfilled' ? 'ran' : o.reason.message)),
);
await small.destroy();
await pool.destroy();
rmSync(dir, { recursive: true });

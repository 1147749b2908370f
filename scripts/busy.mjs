// `npm run test:busy`: run a command (the full suite) while one core spins, as on a developer's
// laptop doing other work. The burner is a worker thread of this process: it stops when the command
// exits, when this process dies, or by itself after BUSY_MAX_MINUTES (default 60), whichever is first.
//
//   node scripts/busy.mjs <command> [args...]      exit code: the command's
import { spawn } from 'node:child_process';
import { Worker } from 'node:worker_threads';

const [cmd, ...args] = process.argv.slice(2);
if (cmd === undefined) {
  console.error('usage: node scripts/busy.mjs <command> [args...]');
  process.exit(2);
}
const maxMs = Number(process.env.BUSY_MAX_MINUTES ?? 60) * 60_000;

// Spins in slices of 50 ms, checking the clock between them, until the deadline.
const burner = new Worker(
  `const end = Date.now() + ${maxMs};
   let x = 0;
   while (Date.now() < end) {
     const slice = Date.now() + 50;
     while (Date.now() < slice) x = (x * 1103515245 + 12345) | 0;
   }`,
  { eval: true },
);
burner.unref();
const t0 = performance.now();
const spun = process.cpuUsage();
console.error(
  `busy: one core spinning (for at most ${maxMs / 60_000} min) while: ${[cmd, ...args].join(' ')}`,
);

const child = spawn(cmd, args, { stdio: 'inherit' });
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => child.kill(sig));
child.on('exit', async (code, signal) => {
  await burner.terminate();
  const wall = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(spun);
  console.error(
    `busy: ${cmd} ${args.join(' ')} exited ${signal ?? code} after ${wall.toFixed(1)} s ` +
      `(the burner used ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s of CPU)`,
  );
  process.exit(code ?? 1);
});

// Probes of Node behaviour that docs/node.md relies on. Run: node --expose-gc docs/probes/node.mjs
import { spawn } from 'node:child_process';

const say = (k, v) => console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);

say('node', process.version);
say('Promise.withResolvers / SuppressedError exist', [
  typeof Promise.withResolvers === 'function',
  typeof globalThis.SuppressedError === 'function',
]);

// AbortSignal.any per request against one long-lived parent (needs --expose-gc for the heap figure).
const N = 200_000;
const heapMB = () => {
  globalThis.gc?.();
  globalThis.gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20;
};
async function retained(link) {
  const parent = new AbortController();
  const before = heapMB();
  for (let i = 1; i <= N; i++) {
    const unlink = link(parent.signal, new AbortController());
    unlink();
    if (i % 1000 === 0) await new Promise((r) => setImmediate(r));
  }
  const grown = heapMB() - before;
  const dependants = Object.getOwnPropertySymbols(parent.signal).find(
    (k) => k.description === 'kDependantSignals',
  );
  const kept = dependants ? parent.signal[dependants].size : 0;
  return `heap +${grown.toFixed(1)} MB after ${N} requests; the parent holds ${kept} dependants`;
}
say(
  'AbortSignal.any([parent, child]) per request',
  await retained((p, c) => {
    AbortSignal.any([p, c.signal]);
    return () => {};
  }),
);
say(
  'one listener on the parent, removed in finally',
  await retained((p, c) => {
    const f = () => c.abort(p.reason);
    p.addEventListener('abort', f, { once: true });
    return () => p.removeEventListener('abort', f);
  }),
);

// Per-request costs of the pieces a hand-made link uses (a tight loop: a floor, not a budget).
function perOp(fn, n = 200_000) {
  fn();
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < n; i++) fn();
  return `${(Number(process.hrtime.bigint() - t0) / n / 1000).toFixed(2)} µs`;
}
let last;
say(
  'new AbortController().signal',
  perOp(() => {
    last = new AbortController().signal;
  }),
);
const someSignal = last;
const noop = () => {};
say(
  'add and remove an abort listener',
  perOp(() => {
    someSignal.addEventListener('abort', noop);
    someSignal.removeEventListener('abort', noop);
  }),
);
say(
  'setTimeout + clearTimeout',
  perOp(() => clearTimeout(setTimeout(noop, 1000))),
);

function child(code, signal, wait = 400) {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (out += d));
    p.stdout.once('data', () => {
      if (signal) p.kill(signal);
      setTimeout(() => p.kill('SIGKILL'), wait);
    });
    p.on('exit', (status, sig) => resolve({ status, sig, out: out.trim().split('\n') }));
  });
}

let r = await child(
  `const c = new AbortController();
   c.signal.addEventListener('abort', async () => { throw new Error('listener failed'); });
   console.log('ready'); c.abort(); setTimeout(() => console.log('still alive'), 100);`,
);
say(
  'an async abort listener that throws',
  `exit ${r.status} ${r.sig ?? ''}; ${r.out.find((l) => /Error|alive/.test(l))}`,
);
r = await child(`console.log('ready'); setInterval(() => {}, 1000);`, 'SIGHUP');
say('SIGHUP with no handler', `process ended by ${r.sig}`);
r = await child(`console.log('ready'); setInterval(() => {}, 1000);`, 'SIGUSR1', 800);
say('SIGUSR1 with no handler', r.out.filter((l) => /Debugger/.test(l)).join(' | ') || 'no inspector');
process.exit(0);

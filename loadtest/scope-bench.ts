/**
 * What a request scope costs: ns per request for the lifecycle the server runs once per request —
 * open a scope with a deadline, linked to a long-lived server signal, close it — in its variants:
 *
 *   lazy          the signal is never read (static files, redirects, handlers that never look)
 *   signal        the signal is read: AbortController, one listener on the server signal, timer
 *   fork          plus one trivial forked task (what a proxied request or a handler fork costs)
 *   scope()       the body-closure form, reading the signal
 *   floor:await   an empty `await` per iteration (the loop's own cost)
 *   floor:signal  `new AbortController().signal` alone: ≈ 2–5 µs on Node 20 (`createAbortSignal`
 *                 re-prototypes a fresh EventTarget), the price of any real signal
 *   floor:eager   raw AbortController + add/remove listener + setTimeout/clearTimeout: what an
 *                 eager scope cannot avoid on Node 20
 *
 * Rounds interleave the cases so machine drift hits them alike; the table shows the median round.
 *
 *   npx tsc -p tsconfig.build.json && node dist/loadtest/scope-bench.js [--n 100000] [--rounds 5]
 */
import { getEventListeners } from 'node:events';
import { cpus } from 'node:os';
import { RequestScope, scope } from '../src/runtime/index.js';
import { parseCli, whole } from './lib/cli.js';

const USAGE = `usage: npx tsc -p tsconfig.build.json && node dist/loadtest/scope-bench.js [options]

  --n=N                 requests per case and round (default 100000)
  --rounds=N            rounds (default 5)
`;

const opt = parseCli(
  'scope-bench',
  USAGE,
  { n: { type: 'string', default: '100000' }, rounds: { type: 'string', default: '5' } },
  (v) => {
    whole('n', v.n, 0, 1);
    whole('rounds', v.rounds, 0, 1);
  },
);
const N = Number(opt.n);
const ROUNDS = Number(opt.rounds);
const TIMEOUT_MS = 30_000;

const server = new AbortController();
const serverSignal = server.signal;
const noop = (): void => {};
const one = async (): Promise<number> => 1;
let sink = 0;

const cases: Record<string, () => Promise<void>> = {
  lazy: async () => {
    for (let i = 0; i < N; i++) {
      const s = new RequestScope({ signal: serverSignal, timeout: TIMEOUT_MS });
      await s.close();
    }
  },
  signal: async () => {
    for (let i = 0; i < N; i++) {
      const s = new RequestScope({ signal: serverSignal, timeout: TIMEOUT_MS });
      if (s.signal.aborted) sink++;
      await s.close();
    }
  },
  fork: async () => {
    for (let i = 0; i < N; i++) {
      const s = new RequestScope({ signal: serverSignal, timeout: TIMEOUT_MS });
      s.fork(one);
      await s.close();
    }
  },
  'scope()': async () => {
    for (let i = 0; i < N; i++) {
      sink += await scope(async (s) => (s.signal.aborted ? 0 : 1), {
        signal: serverSignal,
        timeout: TIMEOUT_MS,
      });
    }
  },
  'floor:await': async () => {
    for (let i = 0; i < N; i++) await undefined;
  },
  'floor:signal': async () => {
    for (let i = 0; i < N; i++) {
      if (new AbortController().signal.aborted) sink++;
      await undefined;
    }
  },
  'floor:eager': async () => {
    for (let i = 0; i < N; i++) {
      const c = new AbortController();
      const listener = (): void => {
        c.abort();
      };
      serverSignal.addEventListener('abort', listener);
      const t = setTimeout(noop, TIMEOUT_MS);
      t.unref();
      if (c.signal.aborted) sink++;
      await undefined;
      clearTimeout(t);
      serverSignal.removeEventListener('abort', listener);
    }
  },
};

async function main(): Promise<void> {
  const names = Object.keys(cases);
  const samples: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (const name of names) await cases[name]!(); // warm-up round, not counted
  for (let r = 0; r < ROUNDS; r++) {
    for (const name of names) {
      const t0 = process.hrtime.bigint();
      await cases[name]!();
      samples[name]!.push(Number(process.hrtime.bigint() - t0) / N);
    }
  }
  const cpu = cpus()[0]?.model ?? 'unknown cpu';
  console.log(`node ${process.version}, ${cpus().length} × ${cpu}; ${ROUNDS} rounds × ${N} requests`);
  console.log('case          median ns/req   min     max');
  for (const name of names) {
    const xs = samples[name]!.sort((a, b) => a - b);
    const median = xs[Math.floor(xs.length / 2)]!;
    console.log(
      `${name.padEnd(14)}${median.toFixed(0).padStart(10)}${xs[0]!.toFixed(0).padStart(10)}${xs[xs.length - 1]!.toFixed(0).padStart(8)}`,
    );
  }
  const left = getEventListeners(serverSignal, 'abort').length;
  console.log(`listeners left on the server signal: ${left}`);
  if (left !== 0 || sink < 0) process.exitCode = 1;
}

await main();

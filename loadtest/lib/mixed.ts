/**
 * Light requests beside heavy ones, on Switchyard alone: /hello latency at low concurrency, first
 * alone, then while a second load generator keeps /fib/32 (a pool job) busy for the same fixed
 * duration. Skipped cleanly when /fib/32 does not answer 200 (the pool track is not there yet).
 */
import { runLoad } from './load.js';
import { request } from './net.js';
import { type RunEnv, serverOf } from './runenv.js';
import { MIXED, type MixedResult } from './scenarios.js';
import { fmt } from './throughput.js';

export async function runMixed(env: RunEnv): Promise<MixedResult> {
  const result: MixedResult = {
    kind: 'mixed',
    id: 'mixed',
    title: MIXED.title,
    what: MIXED.what,
    status: 'ok',
    lightConnections: MIXED.lightConnections,
    heavyConnections: MIXED.heavyConnections,
  };
  const skip = (status: 'skipped' | 'failed', reason: string) => {
    env.log(`  mixed: ${reason}`);
    return Object.assign(result, { status, reason });
  };
  const s = serverOf(env, 'switchyard');
  if (!s.ok) return skip(s.status, `Switchyard: ${s.reason}`);
  const port = s.server.port;
  for (const p of [MIXED.lightPath, MIXED.heavyPath]) {
    try {
      const a = await request(port, 'GET', p, undefined, 30_000);
      if (a.status !== 200) return skip('skipped', `GET ${p} answered ${a.status}, not 200`);
    } catch (err) {
      return skip('skipped', `GET ${p}: ${(err as Error).message}`);
    }
  }
  const { opts } = env;
  const light = {
    url: `http://127.0.0.1:${port}${MIXED.lightPath}`,
    connections: MIXED.lightConnections,
    threads: 1,
    method: 'GET' as const,
    durationSec: opts.durationSec,
  };
  const heavy = {
    ...light,
    url: `http://127.0.0.1:${port}${MIXED.heavyPath}`,
    connections: MIXED.heavyConnections,
    timeoutSec: 30,
  };
  try {
    if (opts.warmupSec > 0) await runLoad(env.tool, { ...light, durationSec: opts.warmupSec }, env.tmp);
    result.baseline = await runLoad(env.tool, light, env.tmp);
    env.log(`  mixed        /hello alone                   ${fmt(result.baseline)}`);
    const [h, l] = await Promise.all([runLoad(env.tool, heavy, env.tmp), runLoad(env.tool, light, env.tmp)]);
    result.heavy = h;
    result.underLoad = l;
    env.log(`  mixed        /hello beside /fib/32          ${fmt(l)}`);
    env.log(`  mixed        /fib/32                        ${fmt(h)}`);
  } catch (err) {
    return skip('failed', (err as Error).message);
  }
  return result;
}

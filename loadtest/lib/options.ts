/** Command-line options of `npm run bench -- …`. */
import { parseArgs } from 'node:util';
import { whole as num } from './cli.js';

export const SCENARIO_IDS = [
  'idle',
  'proxy-small',
  'proxy-rate',
  'proxy-64k',
  'proxy-upload',
  'hello',
  'mixed',
] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

export interface Options {
  quick: boolean;
  only: Set<ScenarioId>;
  /** Server ids to keep (empty: all). */
  contenders: Set<string>;
  durationSec: number;
  rounds: number;
  /** paired windows per pair (0: no paired section) */
  pairedRounds: number;
  warmupSec: number;
  connections: number;
  threads: number;
  idleConnections: number;
  tool: 'wrk' | 'autocannon';
  install: boolean;
  save: boolean;
  /** Root of another checkout whose build is measured beside this one (before/after a change). */
  baseline?: string;
}

export const USAGE = `usage: npm run bench -- [options]

  --quick               short run to check the harness (< 60 s): 2 s steps, 1 round, 1,000 idle conns
  --only=a,b            scenarios: ${SCENARIO_IDS.join(', ')}
  --contenders=a,b      servers: switchyard, switchyard-log, switchyard-lean, switchyard-node, nginx,
                        haproxy, caddy, uws-undici, uws-undici-fields, uws-socket, fastify-proxy,
                        uws, uws-read, fastify, node-http
  --duration=SEC        seconds per measured step (default 10; quick 2)
  --rounds=N            alternating rounds per scenario (default 3; quick 1)
  --paired=N            paired windows (3 s, both servers loaded at once) per pair after the
                        throughput scenarios; 0 skips them (default 8; quick 1)
  --warmup=SEC          warm-up per contender before its first round (default 3; quick 0)
  --connections=N       wrk connections (default 64)
  --threads=N           wrk threads (default 1: the box has 2 cores, one is the server's)
  --idle=N              idle keep-alive connections to open (default 10000; quick 1000)
  --tool=wrk|autocannon load generator (default wrk, autocannon if wrk cannot be had)
  --baseline=DIR        also run DIR/dist/src/cli.js (another checkout, built) as "Switchyard
                        baseline", access log off and on: a change's effect measured in one run
  --no-install          do not apt-get install wrk / nginx-light when missing
  --no-save             print the tables but do not write loadtest/results/ and RESULTS.md
`;

export function parseOptions(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      contenders: { type: 'string' },
      duration: { type: 'string' },
      rounds: { type: 'string' },
      paired: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      idle: { type: 'string' },
      tool: { type: 'string' },
      baseline: { type: 'string' },
      'no-install': { type: 'boolean', default: false },
      'no-save': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const quick = values.quick === true;
  const list = (s: string | undefined) =>
    (s ?? '')
      .split(',')
      .map((x) => x.trim())
      .filter(Boolean);
  const only = list(values.only);
  for (const id of only) {
    if (!(SCENARIO_IDS as readonly string[]).includes(id))
      throw new Error(`--only: unknown scenario "${id}"`);
  }
  const tool = values.tool ?? 'wrk';
  if (tool !== 'wrk' && tool !== 'autocannon') throw new Error(`--tool: "${tool}" is not wrk or autocannon`);
  return {
    quick,
    only: new Set((only.length > 0 ? only : SCENARIO_IDS) as ScenarioId[]),
    contenders: new Set(list(values.contenders)),
    durationSec: num('duration', values.duration, quick ? 2 : 10, 1),
    rounds: num('rounds', values.rounds, quick ? 1 : 3, 1),
    pairedRounds: num('paired', values.paired, quick ? 1 : 8, 0),
    warmupSec: num('warmup', values.warmup, quick ? 0 : 3, 0),
    connections: num('connections', values.connections, 64, 1),
    threads: num('threads', values.threads, 1, 1),
    idleConnections: num('idle', values.idle, quick ? 1000 : 10_000, 1),
    tool,
    install: values['no-install'] !== true,
    save: values['no-save'] !== true,
    ...(values.baseline === undefined ? {} : { baseline: values.baseline }),
  };
}

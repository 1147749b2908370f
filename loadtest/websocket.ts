/**
 * `npm run bench:ws`: WebSockets, Switchyard beside raw uWebSockets.js and the `ws` library, side
 * by side in one run, 127.0.0.1 only. Each server is its own process (CPU and memory are read from
 * /proc per process); the load generator is this process, a raw-socket client (lib/ws-client.ts).
 *
 * 1. Echo: 50 connections, each sending a 32-byte text message and waiting for its echo (closed
 *    loop), for `--duration` s per round, contenders alternating round by round. Round trips/s,
 *    p50/p99 round trip, server CPU µs per round trip.
 * 2. Fan-out: 1,000 subscribers, one publisher; each publish (64 bytes) waits until all 1,000 have
 *    it before the next. Delivery time (publish sent → message read by a subscriber) p50/p99, the
 *    time until the last subscriber has it p50/p99, deliveries/s, server CPU µs per delivery.
 * 3. Memory per idle connection: RSS of the server process before and after opening `--idle`
 *    connections (10,000 by default; the fd limit is 20,000 here), settled. User-space only: the
 *    kernel's socket buffers are not in RSS.
 * 4. The game room (Switchyard only): 1,000 players in 10 rooms, each player moving every 200 ms.
 *    Tick jitter = |gap − 50 ms| p50/p99, twice: in the server (a 50 ms probe interval on the
 *    game's event loop, ws-routes/game.ts) and at the players (one observer per room records when
 *    each state message arrives; this includes the load generator's own lateness). Server CPU µs
 *    per player-tick.
 *
 *   npm run build && node dist/loadtest/websocket.js [--rounds 3] [--duration 5] [--idle 10000] [--quick]
 *
 * Prints the tables; a full run (not --quick) also writes loadtest/results/websocket.json and the
 * `bench:ws` section of loadtest/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import os, { cpus, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseCli, whole } from './lib/cli.js';
import { freePort, request, waitReady } from './lib/net.js';
import { cpuTreeUs, rssTree, type Spawned, sleep, spawnTracked, stop } from './lib/proc.js';
import { writeSection } from './lib/results-md.js';
import { median } from './lib/stats.js';
import { connectMany, connectWs, frame, type RawWs } from './lib/ws-client.js';

const root = fileURLToPath(new URL('../..', import.meta.url)); // from dist/loadtest/
const USAGE = `usage: npm run bench:ws -- [options]

  --rounds=N            alternating rounds per scenario (default 3)
  --duration=SEC        seconds per echo round (default 5)
  --idle=N              idle connections for the memory figure (default 10000)
  --quick               1 short round, fewer connections; writes nothing
  --out=FILE            where the JSON goes (default loadtest/results/websocket.json)
`;

const opt = parseCli(
  'websocket',
  USAGE,
  {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    idle: { type: 'string', default: '10000' },
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(root, 'loadtest', 'results', 'websocket.json') },
  },
  (v) => {
    for (const k of ['rounds', 'duration', 'idle'] as const) whole(k, v[k], 0, 1);
  },
);
const quick = opt.quick;
const rounds = quick ? 1 : Number(opt.rounds);
const durationMs = (quick ? 1 : Number(opt.duration)) * 1000;
const idleConns = quick ? 1000 : Number(opt.idle);
const SUBSCRIBERS = quick ? 200 : 1000;
const PUBLISHES = quick ? 50 : 300;
const PLAYERS = quick ? 200 : 1000;
const ROOMS = 10;
const ECHO_CONNS = 50;
const log = (s: string) => process.stdout.write(`${s}\n`);

interface Contender {
  name: string;
  proc: Spawned;
  port: number;
  echoPath: string;
  subPath: string;
}

function pct(xs: ArrayLike<number>, p: number): number {
  const s = Float64Array.from(xs).sort();
  return s.length === 0 ? Number.NaN : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function startSwitchyard(): Promise<Contender> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-ws-bench-'));
  const conf = join(dir, 'switchyard.yaml');
  writeFileSync(
    conf,
    `listen: [{ host: 127.0.0.1, port: ${port} }]
log: { level: warn, access: off }
pool: { threads: 1 }
routes_dir: ${join(root, 'dist', 'loadtest', 'ws-routes')}
routes:
  - { path: /echo, websocket: bench-echo, idle: 0 }
  - { path: /sub, websocket: bench-sub, idle: 0 }
  - { path: /game/ws, websocket: game, max_message: 256, idle: 0 }
  - { path: /game-stats, handler: game-stats }
  - { path: /, respond: { status: 200, body: "ok" } }
`,
  );
  const proc = spawnTracked('switchyard', process.execPath, [
    join(root, 'dist', 'src', 'cli.js'),
    'start',
    '-c',
    conf,
  ]);
  await waitReady(proc, port, '/', 20_000);
  return { name: 'switchyard', proc, port, echoPath: '/echo', subPath: '/sub' };
}

async function startChild(name: string, file: string): Promise<Contender> {
  const port = await freePort();
  const proc = spawnTracked(name, process.execPath, [
    join(root, 'dist', 'loadtest', 'contenders', file),
    '--port',
    String(port),
  ]);
  await waitReady(proc, port, '/', 20_000);
  return { name, proc, port, echoPath: '/echo', subPath: '/sub' };
}

const pid = (c: Contender) => c.proc.child.pid!;
const closeAll = (xs: RawWs[]) => {
  for (const x of xs) x.close();
};

/** Closed-loop echo on ECHO_CONNS connections for `ms`. */
async function echo(c: Contender, ms: number) {
  const conns = await connectMany(c.port, c.echoPath, ECHO_CONNS);
  const msg = frame(Buffer.from('x'.repeat(32)));
  let measuring = false;
  let running = true;
  let count = 0;
  const rtts: number[] = [];
  for (const s of conns) {
    let t0 = performance.now();
    s.onMessage = () => {
      const now = performance.now();
      if (measuring) {
        count++;
        rtts.push(now - t0);
      }
      if (!running) return;
      t0 = now;
      s.socket.write(msg);
    };
    s.socket.write(msg);
  }
  await sleep(Math.min(1000, ms / 4)); // warm-up
  const cpu0 = cpuTreeUs(pid(c));
  const t0 = performance.now();
  measuring = true;
  await sleep(ms);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuTreeUs(pid(c)) - cpu0;
  running = false;
  closeAll(conns);
  return { rps: count / elapsed, p50: pct(rtts, 50), p99: pct(rtts, 99), cpuUs: cpu / count };
}

/** One publisher, SUBSCRIBERS subscribers; each publish waits for every delivery. */
async function fanout(c: Contender) {
  const subs = await connectMany(c.port, c.subPath, SUBSCRIBERS);
  const pub = await connectWs(c.port, c.echoPath);
  const deliveries: number[] = [];
  const lasts: number[] = [];
  let got = 0;
  let sentAt = 0;
  let measuring = false;
  let all: () => void = () => {};
  for (const s of subs) {
    s.onMessage = () => {
      const d = performance.now() - sentAt;
      if (measuring) deliveries.push(d);
      if (++got === SUBSCRIBERS) {
        if (measuring) lasts.push(d);
        all();
      }
    };
  }
  const pad = 'p'.repeat(48);
  const once = async (i: number) => {
    got = 0;
    const done = new Promise<void>((r) => {
      all = r;
    });
    sentAt = performance.now();
    pub.send(`pub:${String(i).padStart(8, '0')}${pad}`);
    await Promise.race([
      done,
      sleep(10_000).then(() =>
        Promise.reject(new Error(`${c.name}: publish ${i}: ${got} of ${SUBSCRIBERS} delivered in 10 s`)),
      ),
    ]);
  };
  for (let i = 0; i < 20; i++) await once(i); // warm-up
  const cpu0 = cpuTreeUs(pid(c));
  const t0 = performance.now();
  measuring = true;
  for (let i = 0; i < PUBLISHES; i++) await once(i);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuTreeUs(pid(c)) - cpu0;
  closeAll([...subs, pub]);
  return {
    deliveriesPerS: (PUBLISHES * SUBSCRIBERS) / elapsed,
    p50: pct(deliveries, 50),
    p99: pct(deliveries, 99),
    lastP50: pct(lasts, 50),
    lastP99: pct(lasts, 99),
    cpuUs: cpu / (PUBLISHES * SUBSCRIBERS),
  };
}

/** RSS once two readings 300 ms apart differ by less than 0.5 % (at most 10 s). */
async function settledRss(p: number): Promise<number> {
  let last = rssTree(p);
  for (let i = 0; i < 33; i++) {
    await sleep(300);
    const now = rssTree(p);
    if (Math.abs(now - last) < last * 0.005) return now;
    last = now;
  }
  return last;
}

async function idle(c: Contender, n: number) {
  // a few connections first, so one-off costs (the first upgrade's code paths) are in the baseline
  closeAll(await connectMany(c.port, c.echoPath, 50));
  const before = await settledRss(pid(c));
  const conns = await connectMany(c.port, c.echoPath, n, 100);
  const after = await settledRss(pid(c));
  closeAll(conns);
  await sleep(500);
  return { conns: n, bytesPerConn: (after - before) / n, rssBefore: before, rssAfter: after };
}

async function game(c: Contender, ms: number) {
  const players = await connectMany(c.port, (i) => `/game/ws?name=p${i}&room=r${i % ROOMS}`, PLAYERS, 100);
  const gaps: number[] = [];
  let measuring = false;
  players.forEach((p, i) => {
    if (i >= ROOMS) return; // players 0..9: one observer per room
    let seen = 0;
    let last = 0;
    p.onMessage = () => {
      const now = performance.now();
      if (seen++ > 0 && measuring && last !== 0) gaps.push(now - last); // the first is the hello
      last = now;
    };
  });
  const moves = ['{"dx":1,"dy":0}', '{"dx":-1,"dy":0}', '{"dx":0,"dy":1}', '{"dx":0,"dy":-1}'].map((m) =>
    frame(Buffer.from(m)),
  );
  let k = 0;
  const mover = setInterval(() => {
    // every 20 ms a tenth of the players: each moves every 200 ms
    for (let i = k % 10; i < players.length; i += 10) players[i]!.socket.write(moves[(i + k) % 4]!);
    k++;
  }, 20);
  await sleep(1000);
  await request(c.port, 'GET', '/game-stats'); // forget the warm-up's ticks
  const received0 = players.reduce((a, p) => a + p.received, 0);
  const cpu0 = cpuTreeUs(pid(c));
  const t0 = performance.now();
  measuring = true;
  await sleep(ms);
  measuring = false;
  const elapsed = (performance.now() - t0) / 1000;
  const cpu = cpuTreeUs(pid(c)) - cpu0;
  const received = players.reduce((a, p) => a + p.received, 0) - received0;
  const serverGaps = (
    JSON.parse((await request(c.port, 'GET', '/game-stats')).body.toString()) as { gaps: number[] }
  ).gaps;
  const serverJitter = serverGaps.map((g) => Math.abs(g - 50));
  clearInterval(mover);
  const open = players.filter((p) => !p.socket.destroyed).length;
  closeAll(players);
  const jitter = gaps.map((g) => Math.abs(g - 50));
  const ticks = elapsed * 20;
  return {
    players: PLAYERS,
    rooms: ROOMS,
    stillOpen: open,
    serverJitterP50: pct(serverJitter, 50),
    serverJitterP99: pct(serverJitter, 99),
    gapP50: pct(gaps, 50),
    jitterP50: pct(jitter, 50),
    jitterP99: pct(jitter, 99),
    cpuPercent: (cpu / 1e6 / elapsed) * 100,
    cpuUsPerPlayerTick: cpu / (ticks * PLAYERS),
    mbPerS: received / elapsed / 1e6,
  };
}

const f = (n: number, d = 0) => (Number.isFinite(n) ? n.toFixed(d) : '—');

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return '?';
  }
}

const loadStart = os.loadavg();

async function main() {
  log(`WebSocket bench: ${cpus().length} cores, ${cpus()[0]?.model ?? '?'}; node ${process.version}`);
  const contenders = [
    await startSwitchyard(),
    await startChild('uws', 'ws-uws.js'),
    await startChild('ws', 'ws-ws.js'),
  ];
  const out: Record<string, unknown> = {
    date: new Date().toISOString(),
    node: process.version,
    cores: cpus().length,
  };
  try {
    // Memory first, on fresh servers: the garbage of the other phases would move RSS meanwhile.
    const mem: Record<string, Awaited<ReturnType<typeof idle>>> = {};
    for (const c of contenders) {
      mem[c.name] = await idle(c, idleConns);
      log(`idle ${c.name}: ${f(mem[c.name]!.bytesPerConn)} bytes/connection`);
    }
    out.idle = mem;
    const echoes: Record<string, ReturnType<typeof echo> extends Promise<infer T> ? T[] : never> = {};
    for (let r = 0; r < rounds; r++)
      for (const c of contenders) {
        const e = await echo(c, durationMs);
        (echoes[c.name] ??= []).push(e);
        log(
          `echo ${c.name} round ${r + 1}: ${f(e.rps)} rt/s, p99 ${f(e.p99, 2)} ms, ${f(e.cpuUs, 1)} µs CPU/rt`,
        );
      }
    const echoSum = Object.fromEntries(
      Object.entries(echoes).map(([n, es]) => [
        n,
        {
          rps: median(es.map((e) => e.rps)),
          p50: median(es.map((e) => e.p50)),
          p99: median(es.map((e) => e.p99)),
          cpuUs: median(es.map((e) => e.cpuUs)),
        },
      ]),
    );
    out.echo = {
      connections: ECHO_CONNS,
      rounds,
      seconds: durationMs / 1000,
      median: echoSum,
      rounds_detail: echoes,
    };
    const fan: Record<string, Awaited<ReturnType<typeof fanout>>> = {};
    for (const c of contenders) {
      fan[c.name] = await fanout(c);
      log(`fan-out ${c.name}: p50 ${f(fan[c.name]!.p50, 2)} ms, p99 ${f(fan[c.name]!.p99, 2)} ms`);
    }
    out.fanout = { subscribers: SUBSCRIBERS, publishes: PUBLISHES, results: fan };
    const g = await game(contenders[0]!, durationMs * 2);
    out.game = g;

    const sy = echoSum.switchyard!;
    const md: string[] = [];
    const put = (line: string) => {
      md.push(line);
      log(line);
    };
    put('\n### Echo (50 connections, 32-byte text, closed loop; medians of rounds)\n');
    put('| server | round trips/s | p50 ms | p99 ms | CPU µs / round trip | vs Switchyard (rt/s) |');
    put('|---|---|---|---|---|---|');
    for (const [n, e] of Object.entries(echoSum))
      put(
        `| ${n} | ${f(e.rps)} | ${f(e.p50, 2)} | ${f(e.p99, 2)} | ${f(e.cpuUs, 1)} | ${f(e.rps / sy.rps, 2)}× |`,
      );
    put(`\n### Fan-out (1 publisher → ${SUBSCRIBERS} subscribers, ${PUBLISHES} publishes one at a time)\n`);
    put(
      '| server | delivery p50 ms | delivery p99 ms | last subscriber p50 / p99 ms | deliveries/s | CPU µs / delivery |',
    );
    put('|---|---|---|---|---|---|');
    for (const [n, r] of Object.entries(fan))
      put(
        `| ${n} | ${f(r.p50, 2)} | ${f(r.p99, 2)} | ${f(r.lastP50, 2)} / ${f(r.lastP99, 2)} | ${f(r.deliveriesPerS)} | ${f(r.cpuUs, 2)} |`,
      );
    put(`\n### Memory per idle connection (${idleConns} connections, server RSS)\n`);
    put('| server | bytes / connection | RSS before → after (MiB) |');
    put('|---|---|---|');
    for (const [n, m] of Object.entries(mem))
      put(`| ${n} | ${f(m.bytesPerConn)} | ${f(m.rssBefore / 2 ** 20, 1)} → ${f(m.rssAfter / 2 ** 20, 1)} |`);
    put(
      `\n### Game room (${g.players} players in ${g.rooms} rooms, 20 Hz, each player moving every 200 ms)\n`,
    );
    put(
      '| tick jitter in the server p50 / p99 ms | state gap at the players p50 ms | jitter at the players p50 / p99 ms | server CPU | CPU µs / player-tick | MB/s to players | players still open |',
    );
    put('|---|---|---|---|---|---|---|');
    put(
      `| ${f(g.serverJitterP50, 2)} / ${f(g.serverJitterP99, 2)} | ${f(g.gapP50, 2)} | ${f(g.jitterP50, 2)} / ${f(g.jitterP99, 2)} | ${f(g.cpuPercent)} % | ${f(g.cpuUsPerPlayerTick, 2)} | ${f(g.mbPerS, 1)} | ${g.stillOpen} |`,
    );
    out.markdown = md.join('\n');
  } finally {
    for (const c of contenders) await stop(c.proc.child);
  }
  if (!quick) {
    mkdirSync(dirname(opt.out!), { recursive: true });
    writeFileSync(opt.out!, `${JSON.stringify(out, null, 2)}\n`);
    log(`\nwrote ${opt.out}`);
    const load = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    writeSection(
      join(root, 'loadtest', 'RESULTS.md'),
      'ws',
      `## WebSockets (\`npm run bench:ws\`)

Measured ${String(out.date).slice(0, 16).replace('T', ' ')} UTC, ${cpus().length} cores, Node ${process.version},
commit ${commit()}, load average ${load(loadStart)} at start and ${load(os.loadavg())} at end (other
work shared the machine). Switchyard (the built CLI, one thread), raw uWebSockets.js and the \`ws\`
library each run as their own process on 127.0.0.1; the load generator (loadtest/lib/ws-client.ts,
raw sockets) is one more process on the same two cores, so round trips/s is bounded by it as much
as by the servers: compare CPU µs, which is the server process's own utime + stime
(\`/proc/PID/stat\`) over the measured step divided by the messages.
${out.markdown as string}
`,
    );
    log('wrote the bench:ws section of loadtest/RESULTS.md');
  }
}

await main();

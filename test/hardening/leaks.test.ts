/**
 * Leaks: 1,000 client aborts at random moments (seeded), spread over every track — a slow handler,
 * a proxied upload, a proxied download, a pool job — against the built CLI. Afterwards the
 * server's descriptors, its upstream connections, the pool (queued/running), its timers and
 * sockets (libuv resources) and its live memory return to their baseline, and every track still
 * answers.
 *
 * Abort moments: mid-head (a prefix of the request, then gone), right after the head, or after a
 * random delay / amount of body up or down; half the time with a FIN (destroy), half with a RST.
 */
import { mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import type http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rand } from '../fuzz/prng.js';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { getJson } from '../helpers/http.js';
import { HANDLERS, ROUTES } from '../helpers/paths.js';
import { mib, type ServerMemory, serverMemory, withExposedGc } from '../helpers/traffic.js';
import { httpUpstream, type Upstream } from '../helpers/upstreams.js';
import { settle as settleValue, sleep, until } from '../helpers/wait.js';

const CHUNK = Buffer.alloc(16 * 1024, 'z');
const SEED = 0x5eed1eaf;

/** GET streams without end (with backpressure); POST reads the body and answers at its end. */
function endlessUpstream() {
  return httpUpstream((req, res) => {
    req.on('error', () => {});
    res.on('error', () => {});
    if (req.method === 'POST') {
      req.resume();
      req.on('end', () => res.end('got it'));
      return;
    }
    if (req.url === '/small') return void res.end('small');
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    const pump = () => {
      while (!res.destroyed && res.write(CHUNK));
    };
    res.on('drain', pump);
    pump();
  });
}

/** A routes folder for the CLI, made of re-exports of the fixture modules (one routes_dir). */
function routesDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'sy-leaks-'));
  mkdirSync(join(dir, 'jobs'));
  const reexport = (file: string, from: string) =>
    writeFileSync(join(dir, file), `export { default } from ${JSON.stringify(from)};\n`);
  reexport('sleep.js', join(HANDLERS, 'sleep.js'));
  reexport('stats.js', join(HANDLERS, 'stats.js'));
  reexport('burn.js', join(ROUTES, 'burn.js'));
  reexport('jobs/burn.js', join(ROUTES, 'jobs', 'burn.js'));
  return dir;
}

/** The kinds of a process's descriptors (socket, pipe, anon_inode:[eventfd] …), counted. */
function fdKinds(pid: number): Record<string, number> {
  const kinds: Record<string, number> = {};
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let k: string;
    try {
      k = readlinkSync(`/proc/${pid}/fd/${fd}`).replace(/\[\d+\]$/, '');
    } catch {
      continue;
    }
    kinds[k] = (kinds[k] ?? 0) + 1;
  }
  return kinds;
}

type Track = 'handler' | 'upload' | 'download' | 'job';
const TRACKS: Track[] = ['handler', 'upload', 'download', 'job'];

interface Stats {
  pool: { queued: number; running: number; threads: number; cancelled: number; completed: number };
  memory: ServerMemory;
  resources: Record<string, number>;
}

/**
 * One request on `track` that the client abandons at a random moment. Resolves once the socket is
 * gone, with what happened ('mid-head', 'answered' when a full response came first, or 'aborted').
 */
function abortOne(port: number, track: Track, r: Rand, i: number): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let received = 0;
    let outcome = 'aborted';
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      if (s.destroyed) return resolve(outcome);
      s.once('close', () => resolve(outcome));
      if (r.chance(0.5)) s.resetAndDestroy();
      else s.destroy();
    };
    s.on('error', () => {});
    s.on('close', () => {
      if (!done) {
        // the server closed first (e.g. a 503 with Connection: close)
        done = true;
        resolve('closed by server');
      }
    });
    let head: string;
    switch (track) {
      case 'handler':
        head = `GET /slow?ms=30000&i=${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
        break;
      case 'job':
        head = `GET /burn?ms=-1&i=${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
        break;
      case 'download':
        head = `GET /up/d${i} HTTP/1.1\r\nHost: x\r\n\r\n`;
        break;
      case 'upload':
        head = r.chance(0.5)
          ? `POST /up/u${i} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`
          : `POST /up/u${i} HTTP/1.1\r\nHost: x\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`;
        break;
    }
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (track !== 'download' && /^HTTP\/1\.1 \d{3}/.test(d.toString('latin1', 0, 12))) outcome = 'answered';
    });
    s.once('connect', () => {
      if (r.chance(0.1)) {
        // gone in the middle of the request head
        s.write(head.slice(0, r.between(1, head.length - 2)));
        outcome = 'mid-head';
        setTimeout(finish, r.int(5));
        return;
      }
      s.write(head);
      const delay = r.int(40);
      if (track === 'upload') {
        const chunked = head.includes('chunked');
        const pieces = r.int(12);
        for (let k = 0; k < pieces; k++) {
          s.write(chunked ? Buffer.concat([Buffer.from('4000\r\n'), CHUNK, Buffer.from('\r\n')]) : CHUNK);
        }
        setTimeout(finish, delay);
      } else if (track === 'download') {
        const want = r.int(512 * 1024);
        const check = () => {
          if (received >= want) finish();
        };
        s.on('data', check);
        // never more than a second: a download that does not start is a failure to look at
        setTimeout(finish, 1000);
      } else {
        setTimeout(finish, delay);
      }
    });
  });
}

async function run(port: number, n: number, seed: number): Promise<Record<string, number>> {
  const r = new Rand(seed);
  const plan = Array.from({ length: n }, () => r.pick(TRACKS));
  const outcomes: Record<string, number> = {};
  let next = 0;
  const worker = async () => {
    while (next < plan.length) {
      const i = next++;
      const track = plan[i]!;
      // each request its own stream of choices: the same seed gives the same requests
      const o = await abortOne(port, track, new Rand((seed + i * 7919) >>> 0), i);
      const key = `${track}: ${o}`;
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: 50 }, worker));
  return outcomes;
}

describe('1,000 random client aborts across all tracks (built CLI)', () => {
  let up: Upstream & { server: http.Server };
  let sy: StartedCli;
  let dir: string;

  beforeAll(async () => {
    up = await endlessUpstream();
    dir = routesDir();
    sy = await withExposedGc(() =>
      startCli(`
listen: [{ host: 127.0.0.1, port: 0, chunked_requests: accept }]
log: { level: info, access: off }
limits: { body: 1GiB }
pool: { threads: 1, queue: 32 }
routes_dir: ${dir}
upstreams:
  u: { servers: [{ url: "${up.url}" }], keepalive: 1s, connections: 64 }
routes:
  - { path: /slow, handler: sleep }
  - { path: /burn, handler: burn }
  - { path: /stats, handler: stats }
  - { path: "/up/*", proxy: u, strip_prefix: /up }
`),
    );
  });

  afterAll(async () => {
    await sy?.stop();
    await up?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  let baseKinds: Record<string, number> = {};
  const stats = async () => (await getJson<Stats>(`${sy.url}/stats?gc=1`)).body;

  /** every track answers normally */
  async function allTracksWork() {
    expect((await getJson(`${sy.url}/slow?ms=1`)).body).toBe('slept');
    expect((await getJson(`${sy.url}/up/small`)).body).toBe('small');
    expect((await getJson<{ thread: number }>(`${sy.url}/burn?ms=1`)).status).toBe(200);
  }

  /** descriptors, upstream sockets and the pool back where they were; returns how long it took */
  async function settle(baseFds: number): Promise<number> {
    const t0 = performance.now();
    await until(
      () => up.sockets.size === 0,
      15_000,
      `upstream connections to close (open: ${up.sockets.size})`,
    );
    try {
      await until(() => sy.fds() <= baseFds, 15_000, 'descriptors back to baseline');
    } catch {
      const s = await stats();
      throw new Error(
        `descriptors not back to ${baseFds}: ${sy.fds()} ${JSON.stringify(fdKinds(sy.pid))} ` +
          `(at baseline ${JSON.stringify(baseKinds)}); pool threads ${s.pool.threads}`,
      );
    }
    for (;;) {
      const s = await stats();
      if (s.pool.queued === 0 && s.pool.running === 0) break;
      if (performance.now() - t0 > 15_000) throw new Error(`pool not idle: ${JSON.stringify(s.pool)}`);
      await sleep(50);
    }
    return performance.now() - t0;
  }

  it('descriptors, upstream sockets, pool queue and memory return to baseline', async () => {
    await allTracksWork();
    // a first round warms everything (JIT, the pool's replacement threads, allocator arenas)
    const warm = await run(sy.port, 200, SEED ^ 1);
    await settle(Number.POSITIVE_INFINITY);
    await until(() => up.sockets.size === 0, 'warm-up upstream connections to close');
    // the baseline once the descriptor count has stopped moving
    await settleValue(() => sy.fds(), { quietMs: 300 });
    const baseFds = sy.fds();
    baseKinds = fdKinds(sy.pid);
    const baseRss = sy.rss();
    const base = await stats();
    const baseMem = await serverMemory(sy.url);

    const t0 = performance.now();
    const outcomes = await run(sy.port, 1000, SEED);
    const elapsed = performance.now() - t0;
    const peakFds = sy.fds();
    const settleMs = await settle(baseFds);
    // timers and handles of the aborted requests: wait for them to be released (or give up and
    // let the assertion below report what is left)
    const leftOver = (st: Stats) =>
      Object.entries(st.resources).every(([kind, n]) => n <= (base.resources[kind] ?? 0) + 1);
    const after = await settleValue(stats, { target: leftOver, everyMs: 50 });
    const afterMem = await serverMemory(sy.url);
    const afterRss = sy.rss();

    console.log(
      `1000 aborts in ${elapsed.toFixed(0)} ms (seed ${SEED.toString(16)}): ${JSON.stringify(outcomes)}\n` +
        `  fds ${baseFds} → ${peakFds} → ${sy.fds()} (${settleMs.toFixed(0)} ms to settle); upstream sockets ${up.sockets.size}; ` +
        `pool queued ${after.pool.queued} running ${after.pool.running} threads ${after.pool.threads}, ` +
        `cancelled ${after.pool.cancelled - base.pool.cancelled}; ` +
        `resources ${JSON.stringify(base.resources)} → ${JSON.stringify(after.resources)}\n` +
        `  rss ${mib(baseRss)} → ${mib(afterRss)}; heap ${mib(baseMem.heapUsed)} → ${mib(afterMem.heapUsed)}; ` +
        `array buffers ${mib(baseMem.arrayBuffers)} → ${mib(afterMem.arrayBuffers)} (after GC); warm-up: ${JSON.stringify(warm)}`,
    );

    expect(sy.child.exitCode).toBeNull();
    expect(sy.stderr()).not.toMatch(/uncaught|unhandled|FATAL/i);
    // (the /stats requests just made may still be closing on the server's side)
    await until(() => sy.fds() <= baseFds, `descriptors back to ${baseFds} after the stats requests`);
    expect(up.sockets.size).toBe(0);
    expect(after.pool).toMatchObject({ queued: 0, running: 0 });
    // timers and sockets: none left behind by an aborted request
    for (const kind of new Set([...Object.keys(base.resources), ...Object.keys(after.resources)])) {
      expect(after.resources[kind] ?? 0, kind).toBeLessThanOrEqual((base.resources[kind] ?? 0) + 1);
    }
    expect(afterMem.heapUsed - baseMem.heapUsed).toBeLessThan(8 * 2 ** 20);
    expect(afterMem.arrayBuffers - baseMem.arrayBuffers).toBeLessThan(8 * 2 ** 20);
    expect(afterRss - baseRss).toBeLessThan(64 * 2 ** 20);
    await allTracksWork();
  }, 90_000);
});

/**
 * The request fuzzer: mutated requests (test/fuzz/mutate.ts) from a corpus of valid ones
 * (corpus.ts), each on a fresh connection, 64 at a time, against the built CLI serving every
 * track (respond, redirect, handlers, proxy to a strict node:http upstream in this process).
 *
 * What must hold, whatever the bytes:
 * - the server never crashes, and answers a valid request on every track afterwards;
 * - every response starts with a well-formed HTTP/1.1 status line (nothing garbled);
 * - the upstream never receives a request its strict parser refuses (no smuggling, no
 *   malformed framing or header values forwarded);
 * - no 500 from the pipeline itself (SY_ERR_HANDLER from a request that no handler threw in);
 * - descriptors return to their baseline.
 *
 * `npm test` runs a short version (FUZZ_COUNT, default 12,000 requests, ≈ 30 s); `npm run fuzz`
 * (FUZZ_FULL=1) runs 100,000 with the same seed. FUZZ_SEED changes the seed. Request i is built
 * from its own PRNG stream (seed, i), so any reported index can be replayed alone, and a stretch
 * of a run with FUZZ_FROM / FUZZ_COUNT (FUZZ_PROGRESS=1 prints counts every 1,000).
 *
 * `/stream` goes through test/fixtures/handlers/fuzz-stream.js, which caps the piece size: the
 * stream fixture allocates `?chunk=` bytes as asked, and 4 GiB blocked the server for seconds.
 */
import type http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { HANDLERS } from '../helpers/paths.js';
import { localPace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { percentile } from '../helpers/traffic.js';
import { httpUpstream, type Upstream } from '../helpers/upstreams.js';
import { sleep, until } from '../helpers/wait.js';
import { send } from './client.js';
import { CORPUS } from './corpus.js';
import { Rand } from './prng.js';
import { fuzzRequest } from './requests.js';

const FULL = process.env.FUZZ_FULL === '1';
const SEED = Number(process.env.FUZZ_SEED ?? 0x5eedf022);
const COUNT = Number(process.env.FUZZ_COUNT ?? (FULL ? 100_000 : 12_000));
/** the first request index (to replay a stretch of a run: FUZZ_FROM=20000 FUZZ_COUNT=1000) */
const FROM = Number(process.env.FUZZ_FROM ?? 0);
const CONCURRENCY = 64;
/** how long a request that gets no byte back is given before we give up on it */
const SILENCE_MS = 200;

interface LogLine {
  msg?: string;
  code?: string;
  level?: number;
  err?: { stack?: string };
}

/**
 * Error-log lines the fixture handlers cause (not findings): the status fixture answering an
 * invalid status (`?status=-1`), the headers fixture's bad header values, and a fixture throwing
 * on nonsense input (`Buffer.alloc(NaN)` in the stream fixture).
 */
function fixtureCaused(rec: LogLine): boolean {
  if (rec.code === 'SY_ERR_BAD_REPLY' || rec.code === 'SY_ERR_BAD_RESPONSE_HEADER') return true;
  return rec.code === 'SY_ERR_HANDLER' && (rec.err?.stack ?? '').includes('/test/fixtures/handlers/');
}

/**
 * Does this request ask the stream fixture for pieces of less than a byte (`chunk=0`, `chunk`,
 * `chunk=`, `chunk=0.5`)? It then yields empty pieces forever and nothing follows the head.
 */
function emptyPieces(bytes: string): boolean {
  const target = /^\S+ (\S+)/.exec(bytes)?.[1];
  if (target === undefined || !target.includes('?')) return false;
  const chunk = new URLSearchParams(target.slice(target.indexOf('?') + 1)).get('chunk');
  return chunk !== null && Number(chunk) < 1;
}

describe(`fuzz: ${COUNT} mutated requests, seed ${SEED.toString(16)}`, () => {
  let up: Upstream & { server: http.Server };
  let sy: StartedCli;
  const upstreamErrors: { code: string; raw: string }[] = [];
  let upstreamAborted = 0;

  beforeAll(async () => {
    up = await httpUpstream((req, res) => {
      let n = 0;
      req.on('data', (d: Buffer) => {
        n += d.length;
      });
      req.on('error', () => {});
      res.on('error', () => {});
      req.on('end', () => {
        res.setHeader('x-upstream', 'fuzz');
        res.end(`${req.method} ${req.url} ${n}\n`);
      });
    });
    // Room for a head at our own limit (limits.header_bytes, 16 KiB by default, node's default
    // too) plus the forwarding fields the proxy adds: a head of 16,300 bytes is fine for us and
    // overflowed node's parser by the X-Forwarded-* lines (an upstream's limit, not a finding).
    (up.server as http.Server & { maxHeaderSize: number }).maxHeaderSize = 64 * 1024;
    // the upstream's parser is strict: anything the proxy sends that it refuses is a finding
    up.server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket) => {
      // a request cut short (the client gave up on its upload, so the proxy aborted ours) is fine
      if (err.code === 'HPE_INVALID_EOF_STATE') upstreamAborted++;
      else if (err.code !== 'ECONNRESET') {
        upstreamErrors.push({
          code: String(err.code),
          raw: err.rawPacket?.toString('latin1').slice(0, 300) ?? '',
        });
      }
      socket.destroy();
    });
    sy = await startCli(`
log: { level: info, access: off }
limits: { body: 64KiB }
routes_dir: ${HANDLERS}
upstreams:
  u: { servers: [{ url: "${up.url}" }], keepalive: 2s, connections: 64, timeouts: { headers: 2s } }
routes:
  - { path: /healthz, respond: { status: 200, body: "ok\\n" } }
  - { path: /old, redirect: { to: /new, status: 301 } }
  - { path: "/users/:id", methods: [GET], respond: { body: "user\\n" } }
  - { path: /read, handler: read }
  - { path: /headers, handler: headers }
  - { path: /status, handler: status }
  - { path: /stream, handler: fuzz-stream }
  - { path: /slow, handler: sleep, timeout: 100ms }
  - { path: "/api/*", proxy: u, strip_prefix: /api, timeout: 5s }
`);
  });

  afterAll(async () => {
    await sy?.stop();
    await up?.close();
  });

  it(
    'never crashes, never garbles, never forwards what a strict parser refuses',
    async () => {
      const valid = await send(sy.port, CORPUS[0]!, new Rand(1), 2000);
      expect(valid.kind).toBe('status 200');
      const baseFds = sy.fds();

      const counts: Record<string, number> = {};
      let unexplained = 0;
      const byMutation: Record<string, Record<string, number>> = {};
      const examples: Record<string, { i: number; applied: string[]; bytes: string; head: string }[]> = {};
      const latencies: number[] = [];
      let next = FROM;
      // Watchdog: a valid request every second must be answered within 2 s all along (a server
      // that stops serving — a hang, a starved event loop — fails the run at once, not at the end).
      // The 2 s hold on a quiet machine; on a busy one, in proportion to its pace measured now.
      const probeMs = scaled(2000, await localPace(), QUIET_PACE_MS.local);
      const t0 = performance.now();
      const probes = { sent: 0, slow: [] as number[], failed: 0 };
      let watching = true;
      const watchdog = (async () => {
        let misses = 0;
        while (watching) {
          await sleep(1000);
          const t = performance.now();
          const o = await send(sy.port, CORPUS[0]!, new Rand(3), probeMs);
          probes.sent++;
          const ms = performance.now() - t;
          if (o.kind !== 'status 200') {
            probes.failed++;
            if (++misses >= 3) {
              const at = next;
              next = FROM + COUNT; // stop the workers
              throw new Error(`the server stopped answering at request ≈ ${at} (${o.kind})`);
            }
          } else {
            misses = 0;
            if (ms > 200) probes.slow.push(Math.round(ms));
          }
        }
      })();
      const worker = async () => {
        while (next < FROM + COUNT) {
          const i = next++;
          const { bytes, applied, r } = fuzzRequest(SEED, i);
          const t = performance.now();
          const o = await send(sy.port, bytes, r, SILENCE_MS);
          if (o.status !== 0) latencies.push(performance.now() - t);
          counts[o.kind] = (counts[o.kind] ?? 0) + 1;
          for (const m of new Set(applied)) {
            const row = (byMutation[m] ??= {});
            const k = o.status === 0 ? o.kind : `${Math.floor(o.status / 100)}xx`;
            row[k] = (row[k] ?? 0) + 1;
          }
          // (500s are the fixtures' doing, told apart in the error log below)
          // A response that stops short is the stream fixture's `chunk=0` (empty pieces forever,
          // nothing written after the head); any other is a finding.
          if (o.kind.includes('incomplete') && !emptyPieces(bytes)) {
            // 200 ms of silence inside a streamed answer is also what a busy machine does: only an
            // answer that stops short again with 5 s to go on is a finding
            const again = await send(sy.port, bytes, fuzzRequest(SEED, i).r, 5000);
            if (again.kind.includes('incomplete')) unexplained++;
          }
          const suspicious = o.kind === 'garbled' || o.kind.includes('incomplete') || o.kind === 'slow';
          if (suspicious) {
            const list = (examples[o.kind] ??= []);
            if (list.length < 5) list.push({ i, applied, bytes: bytes.slice(0, 400), head: o.head });
          }
          if (sy.child.exitCode !== null)
            throw new Error(`switchyard exited at request ${i}:\n${sy.stderr()}`);
          if (process.env.FUZZ_PROGRESS && i % 1000 === 0)
            console.log(`${i} ${((performance.now() - t0) / 1000).toFixed(1)} s ${JSON.stringify(counts)}`);
        }
      };
      await Promise.race([Promise.all(Array.from({ length: CONCURRENCY }, worker)), watchdog]);
      watching = false;
      await watchdog;
      const seconds = (performance.now() - t0) / 1000;
      latencies.sort((a, b) => a - b);

      // afterwards: alive, and every track answers
      expect(sy.child.exitCode).toBeNull();
      for (const [path, want] of [
        ['/healthz', 200],
        ['/api/hello', 200],
        ['/read', 200],
        ['/stream?bytes=10', 200],
      ] as const) {
        const bytes =
          path === '/read'
            ? 'POST /read HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi'
            : `GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`;
        const o = await send(sy.port, bytes, new Rand(2), 2000);
        expect(o.kind, path).toBe(`status ${want}`);
      }
      await until(
        () => sy.fds() <= baseFds + 2,
        15_000,
        `descriptors back near ${baseFds} (now ${sy.fds()})`,
      );

      // the error log: what the server complained about, by message and code
      const logged: Record<string, number> = {};
      const findings: Record<string, unknown[]> = {};
      for (const line of sy.stderr().split('\n')) {
        if (!line.startsWith('{')) continue;
        const rec = JSON.parse(line) as LogLine;
        if (rec.msg?.startsWith('listening on')) continue;
        const k = `${rec.msg}${rec.code ? ` (${rec.code})` : ''}`;
        logged[k] = (logged[k] ?? 0) + 1;
        if ((rec.level ?? 0) >= 50 && !fixtureCaused(rec)) (findings[k] ??= []).push(rec);
      }
      const sorted = Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]));
      console.log(
        `fuzz: ${COUNT} requests (seed ${SEED.toString(16)}) in ${seconds.toFixed(1)} s ` +
          `(${(COUNT / seconds).toFixed(0)}/s, ${CONCURRENCY} at a time)\n` +
          `  outcomes ${JSON.stringify(sorted)}\n` +
          `  watchdog: ${probes.sent} probes, ${probes.failed} unanswered, slower than 200 ms: ${JSON.stringify(probes.slow)}\n` +
          `  answered: p50 ${percentile(latencies, 50).toFixed(1)} ms, p99 ${percentile(latencies, 99).toFixed(1)} ms\n` +
          `  by mutation ${JSON.stringify(byMutation)}\n` +
          `  error log ${JSON.stringify(logged)}\n` +
          `  upstream requests ${up.hits}, refused by its parser ${upstreamErrors.length}, ` +
          `cut short by an abort ${upstreamAborted}\n` +
          `  fds ${baseFds} → ${sy.fds()}` +
          (Object.keys(examples).length > 0 ? `\n  examples ${JSON.stringify(examples, null, 1)}` : '') +
          (upstreamErrors.length > 0
            ? `\n  upstream errors ${JSON.stringify(upstreamErrors.slice(0, 5))}`
            : '') +
          (Object.keys(findings).length > 0
            ? `\n  error-log findings ${JSON.stringify(Object.fromEntries(Object.entries(findings).map(([k, v]) => [k, v.slice(0, 2)])))}`
            : ''),
      );
      expect(counts.garbled ?? 0).toBe(0);
      expect(unexplained).toBe(0);
      expect(probes.failed).toBe(0);
      expect(upstreamErrors).toEqual([]);
      expect(Object.keys(findings)).toEqual([]);
      expect(sy.stderr()).not.toMatch(/uncaught|unhandled/i);
    },
    FULL ? 1_800_000 : 120_000,
  );
});

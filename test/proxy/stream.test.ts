/**
 * Streaming with backpressure both ways, through the built CLI in its own process: 1 GiB down to a
 * deliberately slow reader and 1 GiB up to a deliberately slow upstream reader. The bytes must
 * arrive exactly (SHA-256 on both sides), and the proxy's RSS may grow by less than an eighth of the
 * size: nothing is buffered whole (that would grow it by the size or more), and the slack leaves
 * room for when a busy machine's GC runs (+37 MiB quiet, +66 MiB beside another suite, for 1 GiB).
 * `PROXY_STREAM_MIB` sets the size (default 1024).
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { GC_SLACK, uwsGapIt } from '../helpers/engines.js';
import { httpUpstream } from '../helpers/upstreams.js';
import { settle } from '../helpers/wait.js';

const MIB = 1024 * 1024;
const SIZE = Number(process.env.PROXY_STREAM_MIB ?? 1024) * MIB;
const RSS_LIMIT = Math.max(64 * MIB, SIZE / 8) + GC_SLACK;
const RSS_LIMIT_TEXT = `${RSS_LIMIT / MIB} MiB`;
/** When to give up on a whole transfer (≈ 40 s quiet for 1 GiB). */
const GIVE_UP_MS = 600_000;
/** The slow side stops for PAUSE_MS after every SLOW_EVERY bytes. */
const SLOW_EVERY = 8 * MIB;
const PAUSE_MS = 15;

/** SIZE bytes as 1 MiB blocks, each stamped with its index (reordering would change the hash). */
const BLOCK = Buffer.alloc(MIB);
for (let i = 0; i < MIB; i += 4) BLOCK.writeUInt32LE((Math.imul(i, 2654435761) ^ (i >>> 7)) >>> 0, i);
function block(i: number): Buffer {
  const b = Buffer.from(BLOCK);
  b.writeUInt32LE(i, 0);
  return b;
}

/** Write SIZE bytes to `out` with backpressure; resolves with their hash. */
async function produce(out: NodeJS.WritableStream & { writableNeedDrain?: boolean }): Promise<string> {
  const h = createHash('sha256');
  for (let i = 0; i < SIZE / MIB; i++) {
    const b = block(i);
    h.update(b);
    if (!out.write(b)) await new Promise((r) => out.once('drain', r));
  }
  return h.digest('hex');
}

/** Read a stream slowly (pausing PAUSE_MS every SLOW_EVERY bytes); resolves with hash and size. */
function consumeSlowly(stream: NodeJS.ReadableStream): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    let nextPause = SLOW_EVERY;
    stream.on('data', (d: Buffer) => {
      h.update(d);
      bytes += d.length;
      if (bytes >= nextPause) {
        nextPause += SLOW_EVERY;
        stream.pause();
        setTimeout(() => stream.resume(), PAUSE_MS);
      }
    });
    stream.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
    stream.on('error', reject);
  });
}

/** Sample the proxy's RSS every 50 ms until stopped; returns the peak. */
function sampleRss(proxy: StartedCli): { stop(): number } {
  let peak = proxy.rss();
  let n = 0;
  const t = setInterval(() => {
    const r = proxy.rss();
    peak = Math.max(peak, r);
    if (process.env.PROXY_RSS_TRACE && ++n % 10 === 0) console.log(`rss ${(r / MIB).toFixed(1)} MiB`);
  }, 50);
  return {
    stop() {
      clearInterval(t);
      return Math.max(peak, proxy.rss());
    },
  };
}

let proxy: StartedCli;
let upstream: Awaited<ReturnType<typeof httpUpstream>>;
let downHash: Promise<string> | undefined;
let upResult: Promise<{ hash: string; bytes: number }> | undefined;
/** called when the upstream receives the 10^9-byte upload's head (the proxy accepted it) */
let hugeUploadArrived: (() => void) | undefined;

beforeAll(async () => {
  upstream = await httpUpstream((req, res) => {
    if (req.method === 'GET') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(SIZE) });
      downHash = produce(res).then((h) => {
        res.end();
        return h;
      });
    } else {
      if (req.headers['content-length'] === String(1e9)) hugeUploadArrived?.();
      upResult = consumeSlowly(req);
      // an upload the client abandons (the 10^9 Content-Length case) rejects: not an error here
      void upResult.then(
        () => res.end('stored'),
        () => res.destroy(),
      );
    }
  });
  // chunked uploads: a Content-Length of 10^9 or more is closed by uWS (known gap, below)
  proxy = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, chunked_requests: accept }]
log: { level: info, access: "off" }
limits: { body: 4GiB }
upstreams: { big: { servers: [{ url: "${upstream.url}" }], timeouts: { idle: 30s } } }
routes: [{ path: "/*", proxy: big }]
`);
  // warm up: code paths compiled, pool connection open
  const warm = await fetch(`${proxy.url}/warm`, { method: 'POST', body: 'x' });
  await warm.text();
  // the baseline: RSS once it has stopped moving after the warm-up (or after 3 s)
  await settle(() => proxy.rss(), { quietMs: 200, ms: 3000 });
});

afterAll(async () => {
  await proxy?.stop();
  await upstream?.close();
});

describe(`streaming ${SIZE / MIB} MiB through the proxy`, () => {
  it(
    `down, to a slow reader: bytes exact, RSS growth < ${RSS_LIMIT_TEXT}`,
    async () => {
      const base = proxy.rss();
      const rss = sampleRss(proxy);
      const t0 = performance.now();
      const got = await new Promise<{ hash: string; bytes: number }>((resolve, reject) => {
        const req = http.get(`${proxy.url}/down`, { agent: false }, (res) => {
          expect(res.statusCode).toBe(200);
          expect(res.headers['content-length']).toBe(String(SIZE));
          consumeSlowly(res).then(resolve, reject);
        });
        req.on('error', reject);
      });
      const ms = performance.now() - t0;
      const peak = rss.stop();
      expect(got.bytes).toBe(SIZE);
      expect(got.hash).toBe(await downHash);
      console.log(
        `down ${SIZE / MIB} MiB: ${(ms / 1000).toFixed(1)} s (${(SIZE / MIB / (ms / 1000)).toFixed(0)} MiB/s), ` +
          `proxy RSS ${(base / MIB).toFixed(0)} → peak ${(peak / MIB).toFixed(0)} MiB (+${((peak - base) / MIB).toFixed(1)})`,
      );
      expect(peak - base).toBeLessThan(RSS_LIMIT);
    },
    GIVE_UP_MS,
  );

  it(
    `up, to a slow upstream reader: bytes exact, RSS growth < ${RSS_LIMIT_TEXT}`,
    async () => {
      const base = proxy.rss();
      const rss = sampleRss(proxy);
      const t0 = performance.now();
      let sentHash = '';
      const status = await new Promise<number>((resolve, reject) => {
        const req = http.request(`${proxy.url}/up`, {
          method: 'PUT',
          agent: false,
          // Chunked: uWS 20.30 closes any request whose Content-Length has 10 digits or more
          // (>= 10^9 bytes) at once, before we see it (known gap, below).
          headers: { 'content-type': 'application/octet-stream' },
        });
        req.on('error', reject);
        req.on('response', (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode!));
        });
        void produce(req).then((h) => {
          sentHash = h;
          req.end();
        }, reject);
      });
      const ms = performance.now() - t0;
      const peak = rss.stop();
      expect(status).toBe(200);
      const got = await upResult!;
      expect(got.bytes).toBe(SIZE);
      expect(got.hash).toBe(sentHash);
      console.log(
        `up ${SIZE / MIB} MiB: ${(ms / 1000).toFixed(1)} s (${(SIZE / MIB / (ms / 1000)).toFixed(0)} MiB/s), ` +
          `proxy RSS ${(base / MIB).toFixed(0)} → peak ${(peak / MIB).toFixed(0)} MiB (+${((peak - base) / MIB).toFixed(1)})`,
      );
      expect(peak - base).toBeLessThan(RSS_LIMIT);
    },
    GIVE_UP_MS,
  );

  // a known gap of uWS only: the node engine accepts it
  uwsGapIt(
    'accepts an upload with a Content-Length of 10^9 bytes or more (known gap: uWS closes it)',
    async () => {
      // Accepted means forwarded: the upstream sees its head. Refused means the server closes
      // the connection. Either way the outcome is observed, never guessed from a timer.
      let req: http.ClientRequest | undefined;
      const outcome = await new Promise<string>((resolve) => {
        hugeUploadArrived = () => resolve('still open');
        req = http.request(`${proxy.url}/up`, {
          method: 'PUT',
          agent: false,
          headers: { 'content-length': String(1e9) },
        });
        req.on('error', () => resolve('closed by the server'));
        req.write('x');
      });
      hugeUploadArrived = undefined;
      req?.destroy();
      expect(outcome).toBe('still open');
    },
  );
});

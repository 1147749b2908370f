/**
 * Request smuggling through uWS's chunked decoder (issue: chunk extensions read as hex digits, the
 * two bytes after chunk data dropped unchecked). The built CLI serves two listeners in front of a
 * recording upstream (helpers/recording-upstream.ts): the default one, which answers every chunked
 * request 411 and closes, and one with `chunked_requests: accept`, the documented opt-in.
 *
 * On the default listener, for the issue's exact bytes and for generated variations (every
 * extension byte 0x21–0x7e, size lines with and without CR, chunk data followed by sampled two-byte
 * combinations), each followed on the same connection by a victim request carrying a cookie:
 * - the upstream receives nothing at all (no request, no victim's field, no body);
 * - the client gets a 411 (after uWS's own 100 Continue when asked) and a close, or a close with
 *   no byte — never a response meant for another request.
 *
 * On the accept listener the issue's bytes still smuggle: that is the risk SECURITY.md states for
 * the opt-in, asserted so that a change (a fixed uWS, a stricter engine) is noticed.
 *
 * uWS only: the node engine's parser (llhttp) refuses these bytes with 400 and a close on every
 * listener, which test/conformance.test.ts checks on that engine.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from './fuzz/prng.js';
import { type Cli, startCli } from './helpers/cli.js';
import { defaultEngine } from './helpers/engines.js';
import { RawClient, values, type WireResponse } from './helpers/raw-client.js';
import { type RecordingUpstream, recordingUpstream } from './helpers/recording-upstream.js';
import { absenceWindow } from './helpers/timing.js';

/** the listeners here are uWS's (the default engine where it loads) */
const uws = defaultEngine() === 'uws';

const HEAD = 'POST /upload HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n';
const VICTIM = 'GET /victim HTTP/1.1\r\nHost: a\r\nCookie: session=SECRET\r\n\r\n';
const SMUGGLED = 'GET /smuggled HTTP/1.1\r\nX-Ignore: ';

/** The issue's first reproduction: `1;a` read as 0x1BA, the victim 15 ms later. */
const ISSUE_1 = { parts: [`${HEAD}1;a\r\nZ\r\n0\r\n\r\n`, VICTIM], gap: 15 };
/** The second: two bytes after chunk data skipped, an empty line read as the last chunk. */
const ISSUE_2 = {
  parts: [
    `POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nZXX\r\n\r\n${SMUGGLED}`,
    VICTIM,
  ],
  gap: 300,
};

let up: RecordingUpstream;
let cli: Cli & { ports: number[] };
let refusePort: number;
let acceptPort: number;

beforeAll(async () => {
  up = await recordingUpstream();
  cli = await startCli(`
listen:
  - { host: 127.0.0.1, port: 0 }
  - { host: 127.0.0.1, port: 0, chunked_requests: accept }
log: { level: info, access: off }
upstreams:
  rec: { servers: [{ url: "${up.url}" }], retries: { tries: 1 } }
routes:
  - { path: "/*", proxy: rec }
`);
  [refusePort, acceptPort] = cli.ports as [number, number];
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
  await up?.close();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Outcome {
  statuses: number[];
  /** bytes after the last complete response (a response cut off, or garbage) */
  rest: string;
  closed: boolean;
}

/** Write `parts` on one connection, `gap` ms apart; read every response until the server closes. */
async function attack(port: number, parts: string[], gap: number): Promise<Outcome> {
  const c = await RawClient.connect(port);
  try {
    for (let i = 0; i < parts.length; i++) {
      if (i > 0) await sleep(gap);
      c.write(Buffer.from(parts[i]!, 'latin1'));
    }
    const statuses: number[] = [];
    for (;;) {
      const n = await c.next(3000);
      if ('status' in n) {
        expect((n as WireResponse).problems, 'a well-formed response').toEqual([]);
        statuses.push(n.status);
        continue;
      }
      return { statuses, rest: c.pending, closed: 'closed' in n };
    }
  } finally {
    c.destroy();
  }
}

/** The default listener's promise: a 411 (after a 100 Continue, if asked) and a close, or a bare close. */
function expectRefused(o: Outcome, what: string): void {
  expect(o.closed, `${what}: the server closed the connection`).toBe(true);
  expect(o.rest, `${what}: nothing but whole responses`).toBe('');
  const finals = o.statuses.filter((s) => s !== 100);
  expect(finals.length <= 1 && finals.every((s) => s === 411), `${what}: ${o.statuses.join(',')}`).toBe(true);
}

/** Nothing at all reached the upstream since `mark` bytes. */
function upstreamBytes(): number {
  return up.connections.reduce((n, c) => n + c.bytes.reduce((m, b) => m + b.length, 0), 0);
}

/** Run `cases` against the default listener, `width` at a time, then check the upstream saw nothing. */
async function refuseAll(
  cases: { name: string; parts: string[]; gap: number }[],
  width = 24,
): Promise<Record<string, number>> {
  const before = upstreamBytes();
  const seen: Record<string, number> = {};
  for (let i = 0; i < cases.length; i += width) {
    await Promise.all(
      cases.slice(i, i + width).map(async (c) => {
        const o = await attack(refusePort, c.parts, c.gap);
        expectRefused(o, c.name);
        const k = o.statuses.join(',') || 'closed, no response';
        seen[k] = (seen[k] ?? 0) + 1;
      }),
    );
  }
  // a request forwarded by mistake arrives within a few ms of its connection's close (50, scaled)
  await sleep(await absenceWindow(50));
  expect(upstreamBytes() - before, 'bytes that reached the upstream').toBe(0);
  return seen;
}

const chr = (b: number) => String.fromCharCode(b);

describe.skipIf(!uws)('default listener: chunked request bodies are refused (411, close)', () => {
  it('the issue’s first reproduction (`1;a`): 411, nothing upstream', async () => {
    const o = await attack(refusePort, ISSUE_1.parts, ISSUE_1.gap);
    expectRefused(o, 'issue 1');
    expect(o.statuses).toEqual([411]);
    await sleep(await absenceWindow(50)); // a forwarded request would have arrived by now
    expect(up.requests).toEqual([]);
  });

  it('the issue’s second reproduction (`ZXX`, empty size line): 411, nothing upstream', async () => {
    const o = await attack(refusePort, ISSUE_2.parts, ISSUE_2.gap);
    expectRefused(o, 'issue 2');
    expect(o.statuses).toEqual([411]);
    await sleep(await absenceWindow(50)); // a forwarded request would have arrived by now
    expect(up.requests).toEqual([]);
  });

  it('the 411 says how to send the body', async () => {
    const c = await RawClient.connect(refusePort);
    try {
      c.write(`${HEAD}5\r\nhello\r\n0\r\n\r\n`);
      const n = await c.next(3000);
      if (!('status' in n)) throw new Error(`no response: ${JSON.stringify(n)}`);
      expect(n.status).toBe(411);
      expect(n.body.toString()).toMatch(/Content-Length.*SY_ERR_CHUNKED_REFUSED/);
      expect(values(n, 'connection')).toEqual(['close']);
      expect(await c.closedWithin(2000)).toBe(true);
    } finally {
      c.destroy();
    }
  });

  it('every extension byte 0x21–0x7e, after `;` and bare, with CRLF and bare LF, victim in the same write and 15 ms later', async () => {
    const cases: { name: string; parts: string[]; gap: number }[] = [];
    for (let b = 0x21; b <= 0x7e; b++) {
      for (const sep of [';', '']) {
        for (const eol of ['\r\n', '\n']) {
          const body = `1${sep}${chr(b)}${eol}Z${eol}0${eol}${eol}`;
          const name = `size line ${JSON.stringify(`1${sep}${chr(b)}${eol}`)}`;
          // alternate the victim's timing: in the same read, and in a later one
          cases.push(
            (b + eol.length) % 2 === 0
              ? { name: `${name}, victim later`, parts: [HEAD + body, VICTIM], gap: 15 }
              : { name: `${name}, victim in the same write`, parts: [HEAD + body + VICTIM], gap: 0 },
          );
        }
      }
    }
    expect(cases.length).toBe(94 * 4);
    const seen = await refuseAll(cases);
    if (process.env.SMUGGLING_TALLY) console.log('extension bytes', seen);
  }, 60_000);

  it('chunk data followed by two-byte combinations (all pairs of 12 interesting bytes, 200 random pairs)', async () => {
    const interesting = [0x00, 0x09, 0x0a, 0x0d, 0x20, 0x30, 0x3a, 0x3b, 0x47, 0x58, 0x7f, 0xff];
    const pairs: [number, number][] = [];
    for (const a of interesting) for (const b of interesting) pairs.push([a, b]);
    const rand = mulberry32(0x5eed10); // deterministic: the same byte pairs on every run
    for (let i = 0; i < 200; i++) pairs.push([Math.floor(rand() * 256), Math.floor(rand() * 256)]);
    const cases = pairs.map(([a, b], i) => ({
      name: `data then ${a.toString(16)} ${b.toString(16)}`,
      parts:
        i % 2 === 0
          ? [`${HEAD}1\r\nZ${chr(a)}${chr(b)}\r\n${SMUGGLED}`, VICTIM]
          : [`${HEAD}1\r\nZ${chr(a)}${chr(b)}0\r\n\r\n${SMUGGLED}${VICTIM}`],
      gap: 15,
    }));
    const seen = await refuseAll(cases);
    if (process.env.SMUGGLING_TALLY) console.log('two-byte combinations', seen);
  }, 60_000);

  it('a chunked head alone, the body later: 411 before the body, nothing upstream', async () => {
    await refuseAll([
      { name: 'head, then body and victim', parts: [HEAD, `1;a\r\nZ\r\n0\r\n\r\n${VICTIM}`], gap: 15 },
      {
        name: 'head with Expect, then body and victim',
        parts: [
          HEAD.replace('\r\n\r\n', '\r\nExpect: 100-continue\r\n\r\n'),
          `1\r\nZXX\r\n\r\n${SMUGGLED}${VICTIM}`,
        ],
        gap: 15,
      },
    ]);
  });
});

describe.skipIf(!uws)('chunked_requests: accept (the documented risk)', () => {
  /** Wait until the upstream has received `needle` (or give up after `ms`). */
  async function upstreamSees(needle: string, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    while (performance.now() < deadline) {
      if (up.connections.some((c) => Buffer.concat(c.bytes).toString('latin1').includes(needle))) return true;
      await sleep(20);
    }
    return false;
  }

  it('the issue’s second reproduction still carries the victim’s cookie upstream inside /smuggled', async () => {
    const mark = up.requests.length;
    const c = await RawClient.connect(acceptPort);
    try {
      c.write(ISSUE_2.parts[0]!);
      await sleep(ISSUE_2.gap);
      c.write(ISSUE_2.parts[1]!);
      expect(await upstreamSees('session=SECRET', 10_000)).toBe(true);
      const smuggled = up.requests.slice(mark).find((r) => r.target === '/smuggled');
      expect(smuggled?.fields.map(([k]) => k.toLowerCase())).toContain('cookie');
    } finally {
      c.destroy();
    }
  });

  it('the issue’s first reproduction still swallows the victim into the POST body', async () => {
    const c = await RawClient.connect(acceptPort);
    try {
      c.write(ISSUE_1.parts[0]!);
      await sleep(ISSUE_1.gap);
      c.write(ISSUE_1.parts[1]!);
      expect(await upstreamSees('GET /victim HTTP/1.1\r\nHost: a\r\nCookie: session=SECRET', 10_000)).toBe(
        true,
      );
    } finally {
      c.destroy();
    }
  });
});

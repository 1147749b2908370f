/**
 * Max-Forwards (RFC 9110 §7.6.2) on the proxy track: an OPTIONS or TRACE with `Max-Forwards: 0`
 * is answered by Switchyard and never reaches the upstream; with a larger value it is forwarded
 * with the value decremented; other methods pass it on unchanged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient } from './helpers/raw-client.js';
import { type RecordingUpstream, recordingUpstream } from './helpers/recording-upstream.js';
import { startServer, type TestServer } from './helpers/server.js';

let up: RecordingUpstream;
let s: TestServer;

beforeAll(async () => {
  up = await recordingUpstream();
  s = await startServer(`
upstreams:
  rec: { servers: [{ url: "${up.url}" }], retries: { tries: 1 } }
routes:
  - { path: "/only-get/*", methods: [GET, OPTIONS], proxy: rec }
  - { path: "/*", proxy: rec }
`);
});

afterAll(async () => {
  await s?.close();
  await up?.close();
});

async function ask(head: string) {
  const c = await RawClient.connect(s.port);
  try {
    c.write(`${head}\r\n`);
    const r = await c.next(3000);
    if (!('status' in r)) throw new Error(`no response: ${JSON.stringify(r)}`);
    return r;
  } finally {
    c.destroy();
  }
}

const field = (r: { fields: [string, string][] }, name: string) =>
  r.fields.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);

describe('Max-Forwards', () => {
  it('OPTIONS with Max-Forwards: 0 → 200 with Allow, nothing upstream', async () => {
    const mark = up.requests.length;
    const r = await ask('OPTIONS /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n');
    expect(r.status).toBe(200);
    expect(field(r, 'allow')).toEqual(['GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS']);
    expect(r.body.length).toBe(0);
    const r2 = await ask('OPTIONS /only-get/x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n');
    expect(field(r2, 'allow')).toEqual(['GET, HEAD, OPTIONS']);
    expect(up.requests.length).toBe(mark);
  });

  it('TRACE with Max-Forwards: 0 → 405, the request (and its cookie) not echoed, nothing upstream', async () => {
    const mark = up.requests.length;
    const r = await ask('TRACE /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\nCookie: session=SECRET\r\n');
    expect(r.status).toBe(405);
    expect(field(r, 'allow')[0]).not.toContain('TRACE');
    expect(r.raw).not.toContain('SECRET');
    expect(up.requests.length).toBe(mark);
  });

  it('OPTIONS and TRACE with Max-Forwards: 3 are forwarded with 2', async () => {
    for (const method of ['OPTIONS', 'TRACE']) {
      const mark = up.requests.length;
      const r = await ask(`${method} /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 3\r\n`);
      expect(r.status).toBe(200);
      const got = up.requests.slice(mark);
      expect(got.map((q) => q.method)).toEqual([method]);
      expect(got[0]!.fields.filter(([k]) => k === 'max-forwards')).toEqual([['max-forwards', '2']]);
    }
  });

  it('other methods pass Max-Forwards on unchanged, and a 0 does not stop them', async () => {
    const mark = up.requests.length;
    const r = await ask('GET /x HTTP/1.1\r\nHost: a\r\nMax-Forwards: 0\r\n');
    expect(r.status).toBe(200);
    const got = up.requests.slice(mark);
    expect(got[0]!.fields.filter(([k]) => k === 'max-forwards')).toEqual([['max-forwards', '0']]);
  });
});

/**
 * `compress:` on handler, respond, static and proxy routes over real sockets: negotiation by
 * q-values, the type and length rules, the statuses and methods never compressed, no double
 * encoding, weak ETags, and streamed bodies.
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { brotliDecompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { get, makeSite } from '../static/helpers.js';
import { text } from './text.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');
let srv: TestServer;
let upstream: HttpServer;
const gzipped = gzipSync(Buffer.from(text(5000)));

beforeAll(async () => {
  upstream = createServer((req, res) => {
    if (req.url === '/gz') {
      res.writeHead(200, {
        'content-type': 'text/html',
        'content-encoding': 'gzip',
        'content-length': gzipped.length,
      });
      res.end(gzipped);
    } else {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ text: text(8000) }));
    }
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const up = (upstream.address() as { port: number }).port;
  const site = makeSite();
  srv = await startServer(`
routes_dir: ${fixtures}
upstreams:
  up: { servers: [ { url: "http://127.0.0.1:${up}" } ] }
routes:
  - { path: /text, handler: text, compress: {} }
  - { path: /html-only, handler: text, compress: { types: [text/html] } }
  - { path: /text-star, handler: text, compress: { types: ["text/*"], min_length: 10 } }
  - { path: /gzip-only, handler: text, compress: { encodings: [gzip] } }
  - { path: /plain, handler: text }
  - { path: /fixed, respond: { body: "${'x'.repeat(3000)}", headers: { content-type: text/css } }, compress: {} }
  - { path: "/files/*", static: { root: ${site.root} }, compress: { min_length: 10 } }
  - { path: "/up/*", proxy: up, strip_prefix: /up, compress: {} }
`);
});
afterAll(async () => {
  await srv?.close();
  upstream?.close();
});

const at = (path: string, ae?: string, method = 'GET', extra: Record<string, string> = {}) =>
  get(srv.port, path, ae === undefined ? extra : { 'accept-encoding': ae, ...extra }, method);
const decode = (r: { headers: Record<string, unknown>; body: Buffer }) =>
  r.headers['content-encoding'] === 'br'
    ? brotliDecompressSync(r.body).toString()
    : r.headers['content-encoding'] === 'gzip'
      ? gunzipSync(r.body).toString()
      : r.body.toString();

describe('negotiation (Accept-Encoding q-values)', () => {
  const cases: [string | undefined, string | undefined][] = [
    ['gzip, deflate, br', 'br'], // equal q: the server's order (br first)
    ['gzip;q=1, br;q=0.5', 'gzip'],
    ['br;q=0.1, gzip;q=0.2', 'gzip'],
    ['gzip', 'gzip'],
    ['*', 'br'],
    ['*;q=0.5, br;q=0', 'gzip'],
    ['identity', undefined],
    ['gzip;q=0, br;q=0', undefined],
    ['deflate', undefined],
    ['', undefined],
    [undefined, undefined],
  ];
  for (const [ae, want] of cases) {
    it(`Accept-Encoding ${JSON.stringify(ae)} → ${want ?? 'identity'}`, async () => {
      const r = await at('/text?bytes=5000', ae);
      expect(r.status).toBe(200);
      expect(r.headers['content-encoding']).toBe(want);
      expect(r.headers.vary).toBe('Accept-Encoding');
      expect(decode(r)).toBe(text(5000));
    });
  }

  it('encodings: [gzip] never answers br', async () => {
    expect((await at('/gzip-only?bytes=5000', 'br, gzip;q=0.1')).headers['content-encoding']).toBe('gzip');
    expect((await at('/gzip-only?bytes=5000', 'br')).headers['content-encoding']).toBeUndefined();
  });
});

describe('what is compressed', () => {
  it('compressible types only (mime-db), or exactly the types listed', async () => {
    const enc = async (path: string) => (await at(path, 'gzip')).headers['content-encoding'];
    expect(await enc('/text?bytes=5000&type=application/json')).toBe('gzip');
    expect(await enc('/text?bytes=5000&type=image/svg%2Bxml')).toBe('gzip');
    expect(await enc('/text?bytes=5000&type=image/png')).toBeUndefined();
    expect(await enc('/text?bytes=5000&type=application/octet-stream')).toBeUndefined();
    expect(await enc('/text?bytes=5000&type=text/event-stream')).toBeUndefined();
    expect(await enc('/html-only?bytes=5000&type=application/json')).toBeUndefined();
    expect(await enc('/html-only?bytes=5000')).toBe('gzip');
    expect(await enc('/text-star?bytes=50&type=text/plain')).toBe('gzip');
    expect(await enc('/text-star?bytes=5000&type=application/json')).toBeUndefined();
    // no Content-Type: not compressed
    expect((await at('/fixed', 'gzip')).headers['content-encoding']).toBe('gzip');
  });

  it('min_length: a known length below it is sent as is (default 1 KiB)', async () => {
    const small = await at('/text?bytes=1023', 'gzip');
    expect(small.headers['content-encoding']).toBeUndefined();
    expect(small.headers.vary).toBe('Accept-Encoding');
    expect((await at('/text?bytes=1024', 'gzip')).headers['content-encoding']).toBe('gzip');
    // streamed with a known length: the same rule; with an unknown one: compressed
    expect(
      (await at('/text?bytes=500&stream=1&known=1', 'gzip')).headers['content-encoding'],
    ).toBeUndefined();
    const chunked = await at('/text?bytes=500&stream=1', 'gzip');
    expect(chunked.headers['content-encoding']).toBe('gzip');
    expect(decode(chunked)).toBe(text(500));
  });

  it('a route without compress: never', async () => {
    expect((await at('/plain?bytes=5000', 'gzip, br')).headers['content-encoding']).toBeUndefined();
  });

  it('large and streamed bodies (one string over 64 KiB, a stream with a length) decode to the original', async () => {
    for (const path of [
      '/text?bytes=300000',
      '/text?bytes=300000&stream=1&known=1',
      '/text?bytes=300000&stream=1',
    ]) {
      for (const ae of ['br', 'gzip']) {
        const r = await at(path, ae);
        expect(r.headers['content-encoding'], `${path} ${ae}`).toBe(ae);
        expect(r.headers['content-length']).toBeUndefined(); // chunked: the length is not known up front
        expect(r.body.length).toBeLessThan(300000 / 10);
        expect(decode(r)).toBe(text(300000));
      }
    }
  });
});

describe('never compressed, never twice', () => {
  it('HEAD gets the headers GET gets (Content-Encoding, weak ETag), with no length and no body', async () => {
    const get = await at('/text?bytes=5000&etag=%22abc%22', 'gzip');
    const head = await at('/text?bytes=5000&etag=%22abc%22', 'gzip', 'HEAD');
    expect(head.status).toBe(200);
    for (const name of ['content-encoding', 'vary', 'etag', 'content-type'])
      expect([name, head.headers[name]]).toEqual([name, get.headers[name]]);
    expect(head.headers['content-encoding']).toBe('gzip');
    // known only once compressed (RFC 9110 §9.3.2 lets HEAD leave it out, as nginx's gzip does)
    expect(head.headers['content-length']).toBeUndefined();
    expect(head.body.length).toBe(0);
    const plain = await at('/text?bytes=5000', undefined, 'HEAD');
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toBe('Accept-Encoding');
  });

  it('a compressed 200 offers no ranges; its 304 and a 206 carry the Vary (and the 304 the ETag) a 200 would', async () => {
    expect((await at('/text?bytes=5000&status=204', 'gzip')).headers['content-encoding']).toBeUndefined();
    const identity = await at('/files/notes.txt');
    expect(identity.headers['accept-ranges']).toBe('bytes');
    const strong = identity.headers.etag as string;
    const file = await at('/files/notes.txt', 'gzip');
    expect(file.headers['content-encoding']).toBe('gzip');
    expect(file.headers['accept-ranges']).toBeUndefined();
    const weak = file.headers.etag as string;
    expect(weak).toBe(`W/${strong}`);
    // the 304 answers with the tag the client holds: weak for the compressed copy, strong for the other
    const r304 = await at('/files/notes.txt', 'gzip', 'GET', { 'if-none-match': weak });
    expect(r304.status).toBe(304);
    expect(r304.headers).toMatchObject({ etag: weak, vary: 'Accept-Encoding' });
    expect(r304.headers['content-encoding']).toBeUndefined();
    const held = await at('/files/notes.txt', undefined, 'GET', { 'if-none-match': strong });
    expect(held.headers).toMatchObject({ etag: strong, vary: 'Accept-Encoding' });
    // a client that takes gzip gets the whole compressed file, never a range of the identity bytes
    const whole = await at('/files/notes.txt', 'gzip', 'GET', { range: 'bytes=0-3' });
    expect(whole.status).toBe(200);
    expect(whole.headers['content-encoding']).toBe('gzip');
    expect(decode(whole)).toBe(decode(identity));
    const r206 = await at('/files/notes.txt', undefined, 'GET', { range: 'bytes=0-3' });
    expect(r206.status).toBe(206);
    expect(r206.headers['content-encoding']).toBeUndefined();
    expect(r206.headers.vary).toBe('Accept-Encoding');
    expect(r206.body.toString()).toBe('0123');
  });

  it('a body that already has a Content-Encoding is not encoded again (handler and proxy)', async () => {
    const h = await at('/text?bytes=5000&encoding=br', 'gzip');
    expect(h.headers['content-encoding']).toBe('br');
    expect(h.body.toString()).toBe(text(5000)); // what the handler sent, byte for byte
    const p = await at('/up/gz', 'gzip, br');
    expect(p.headers['content-encoding']).toBe('gzip');
    expect(p.body).toEqual(gzipped);
  });

  it('Cache-Control: no-transform is respected', async () => {
    expect(
      (await at('/text?bytes=5000&cc=no-transform', 'gzip')).headers['content-encoding'],
    ).toBeUndefined();
  });

  it('a strong ETag becomes weak when the body is encoded; a weak one stays', async () => {
    expect((await at('/text?bytes=5000&etag=%22abc%22', 'gzip')).headers.etag).toBe('W/"abc"');
    expect((await at('/text?bytes=5000&etag=W/%22abc%22', 'gzip')).headers.etag).toBe('W/"abc"');
    expect((await at('/text?bytes=5000&etag=%22abc%22')).headers.etag).toBe('"abc"');
  });

  it('proxied responses the upstream did not encode are compressed', async () => {
    const r = await at('/up/json', 'br');
    expect(r.headers['content-encoding']).toBe('br');
    expect(JSON.parse(decode(r))).toEqual({ text: text(8000) });
  });
});

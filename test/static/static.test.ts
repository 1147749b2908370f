/**
 * The static track over real sockets: every rule of issue 17 has a case here — validators and
 * conditional requests, ranges, HEAD, MIME types, directories, dotfiles, the traversal list, and
 * precompressed files. The slow-reader memory bound is in ./slow-reader.test.ts.
 */
import { execFile } from 'node:child_process';
import { rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ConfigError, parseConfig } from '../../src/config/load.js';
import { startServer, type TestServer } from '../helpers/server.js';

/** Poll an async condition every 50 ms. */
async function until(fn: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

import { get, makeSite } from './helpers.js';

const run = promisify(execFile);
let site: ReturnType<typeof makeSite>;
let srv: TestServer;

beforeAll(async () => {
  site = makeSite();
  symlinkSync(site.dir, join(site.root, 'up')); // a directory link out of root
  srv = await startServer(`
routes:
  - { path: "/assets/*", static: { root: ${site.root}, precompressed: [br, gzip], max_age: 1h, immutable: true } }
  - { path: "/plain/*", static: { root: ${site.root}, index: false } }
  - { path: "/deny/*", static: { root: ${site.root}, dotfiles: deny } }
  - { path: "/dots/*", static: { root: ${site.root}, dotfiles: allow } }
  - { path: "/links/*", static: { root: ${site.root}, follow_symlinks: true } }
  - { path: "/fresh/*", static: { root: ${site.root}, cache: 0s } }
`);
});
afterAll(() => srv?.close());

const at = (path: string, headers: Record<string, string> = {}, method = 'GET') =>
  get(srv.port, path, headers, method);

describe('files and headers', () => {
  it('content types from mime-types, charset=utf-8 for text, octet-stream when unknown', async () => {
    const cases: [string, string][] = [
      ['/plain/index.html', 'text/html; charset=utf-8'],
      ['/plain/style.css', 'text/css; charset=utf-8'],
      ['/plain/app.js', 'text/javascript; charset=utf-8'],
      ['/plain/notes.txt', 'text/plain; charset=utf-8'],
      ['/plain/logo.png', 'image/png'],
      ['/plain/app.js.gz', 'application/gzip'],
      ['/plain/data.bin', 'application/octet-stream'],
    ];
    for (const [path, type] of cases) expect((await at(path)).headers['content-type'], path).toBe(type);
  });

  it('a strong ETag, Last-Modified, Accept-Ranges, Content-Length and the body', async () => {
    const r = await at('/plain/notes.txt');
    expect(r.status).toBe(200);
    expect(r.body.toString()).toBe('0123456789abcdefghij');
    expect(r.headers.etag).toMatch(/^"[^"]+"$/);
    expect(new Date(r.headers['last-modified'] as string).getTime()).toBeGreaterThan(0);
    expect(r.headers['accept-ranges']).toBe('bytes');
    expect(r.headers['content-length']).toBe('20');
    expect(r.headers['cache-control']).toBeUndefined();
    expect(r.headers.vary).toBeUndefined();
  });

  it('max_age and immutable become Cache-Control', async () => {
    expect((await at('/assets/notes.txt')).headers['cache-control']).toBe('public, max-age=3600, immutable');
  });

  it('an escaped name is decoded (a%20b.txt)', async () => {
    expect((await at('/plain/a%20b.txt')).body.toString()).toBe('spaced');
  });

  it('HEAD: the same head with the length, no body (curl -I, keep-alive)', async () => {
    const g = await at('/plain/data.bin');
    const { stdout } = await run('curl', ['-sS', '-I', `http://127.0.0.1:${srv.port}/plain/data.bin`]);
    expect(stdout).toMatch(/^HTTP\/1\.1 200/);
    expect(stdout).toMatch(/content-length: 1000\r/i);
    expect(stdout).toContain(`etag: ${g.headers.etag}`);
    // A HEAD that asks to close gets Content-Length: 0 in this uWS build (src/server/uws/write.ts endHead).
    const h = await at('/plain/data.bin', {}, 'HEAD');
    expect(h.status).toBe(200);
    expect(h.body.length).toBe(0);
  });

  it('other methods: 405 with Allow: GET, HEAD', async () => {
    const r = await at('/plain/notes.txt', {}, 'POST');
    expect(r.status).toBe(405);
    expect(r.headers.allow).toBe('GET, HEAD');
  });
});

describe('directories', () => {
  it('the index file for a directory with a slash; a redirect to add the slash', async () => {
    expect((await at('/assets/')).body.toString()).toContain('<p>home</p>');
    expect((await at('/assets/docs/')).body.toString()).toBe('<p>docs</p>\n');
    const r = await at('/assets/docs?x=1');
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe('/assets/docs/?x=1');
  });

  it('the route’s own root: / and no slash each answer their own way, whatever the cache holds', async () => {
    // the cached index of /assets/ must not answer /assets (the same `*`, '')
    for (let i = 0; i < 2; i++) {
      expect((await at('/assets/')).status).toBe(200);
      const r = await at('/assets');
      expect([r.status, r.headers.location]).toEqual([301, '/assets/']);
    }
  });

  it('a file named with a trailing slash is not there (404, as nginx)', async () => {
    expect((await at('/assets/notes.txt')).status).toBe(200);
    expect((await at('/assets/notes.txt/')).status).toBe(404);
    expect((await at('/fresh/notes.txt/')).status).toBe(404);
  });

  it('no index configured, or no index file → 404 (no listing)', async () => {
    expect((await at('/plain/')).status).toBe(404);
    expect((await at('/plain/docs/')).status).toBe(404);
    expect((await at('/assets/empty/')).status).toBe(404);
  });
});

describe('conditional requests', () => {
  const validators = async () => {
    const r = await at('/plain/notes.txt');
    return { etag: r.headers.etag as string, lastModified: r.headers['last-modified'] as string };
  };

  it('If-None-Match → 304 (exact, in a list, weak form, *); a different tag → 200', async () => {
    const { etag } = await validators();
    for (const inm of [etag, `"x", ${etag}`, `W/${etag}`, '*']) {
      const r = await at('/plain/notes.txt', { 'if-none-match': inm });
      expect(r.status, inm).toBe(304);
      expect(r.body.length).toBe(0);
      expect(r.headers.etag).toBe(etag);
    }
    expect((await at('/plain/notes.txt', { 'if-none-match': '"other"' })).status).toBe(200);
  });

  it('If-Modified-Since → 304 when not modified, 200 when older; If-None-Match wins over it', async () => {
    const { lastModified } = await validators();
    expect((await at('/plain/notes.txt', { 'if-modified-since': lastModified })).status).toBe(304);
    const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect((await at('/plain/notes.txt', { 'if-modified-since': older })).status).toBe(200);
    const r = await at('/plain/notes.txt', { 'if-modified-since': lastModified, 'if-none-match': '"other"' });
    expect(r.status).toBe(200);
  });

  it('If-Match → 412 unless it matches strongly (or *); If-Unmodified-Since → 412 when modified since', async () => {
    const { etag, lastModified } = await validators();
    expect((await at('/plain/notes.txt', { 'if-match': '"other"' })).status).toBe(412);
    expect((await at('/plain/notes.txt', { 'if-match': `W/${etag}` })).status).toBe(412);
    expect((await at('/plain/notes.txt', { 'if-match': etag })).status).toBe(200);
    expect((await at('/plain/notes.txt', { 'if-match': '*' })).status).toBe(200);
    const older = new Date(Date.parse(lastModified) - 60_000).toUTCString();
    expect((await at('/plain/notes.txt', { 'if-unmodified-since': older })).status).toBe(412);
    expect((await at('/plain/notes.txt', { 'if-unmodified-since': lastModified })).status).toBe(200);
    // If-Match is evaluated first: a match makes If-Unmodified-Since irrelevant
    expect((await at('/plain/notes.txt', { 'if-match': etag, 'if-unmodified-since': older })).status).toBe(
      200,
    );
  });
});

describe('ranges', () => {
  it('a single range → 206 with Content-Range; suffix and open-ended forms', async () => {
    const r = await at('/plain/notes.txt', { range: 'bytes=2-5' });
    expect(r.status).toBe(206);
    expect(r.headers['content-range']).toBe('bytes 2-5/20');
    expect(r.headers['content-length']).toBe('4');
    expect(r.body.toString()).toBe('2345');
    expect((await at('/plain/notes.txt', { range: 'bytes=-3' })).body.toString()).toBe('hij');
    expect((await at('/plain/notes.txt', { range: 'bytes=18-' })).body.toString()).toBe('ij');
    expect((await at('/plain/notes.txt', { range: 'bytes=15-99' })).headers['content-range']).toBe(
      'bytes 15-19/20',
    );
  });

  it('unsatisfiable → 416 with Content-Range: bytes */size', async () => {
    const r = await at('/plain/notes.txt', { range: 'bytes=50-60' });
    expect(r.status).toBe(416);
    expect(r.headers['content-range']).toBe('bytes */20');
  });

  it('malformed, another unit, or several ranges → the whole file (200)', async () => {
    for (const range of ['bytes=5-2', 'bytes=abc', 'items=0-1', 'bytes=0-1,5-6']) {
      const r = await at('/plain/notes.txt', { range });
      expect(r.status, range).toBe(200);
      expect(r.body.length).toBe(20);
    }
    // overlapping ranges combine into one
    expect((await at('/plain/notes.txt', { range: 'bytes=0-3,2-5' })).headers['content-range']).toBe(
      'bytes 0-5/20',
    );
  });

  it('If-Range: the current ETag or date → 206; a stale one → 200 whole', async () => {
    const g = await at('/plain/notes.txt');
    const etag = g.headers.etag as string;
    const lm = g.headers['last-modified'] as string;
    expect((await at('/plain/notes.txt', { range: 'bytes=0-1', 'if-range': etag })).status).toBe(206);
    expect((await at('/plain/notes.txt', { range: 'bytes=0-1', 'if-range': lm })).status).toBe(206);
    expect((await at('/plain/notes.txt', { range: 'bytes=0-1', 'if-range': '"stale"' })).status).toBe(200);
    expect((await at('/plain/notes.txt', { range: 'bytes=0-1', 'if-range': `W/${etag}` })).status).toBe(200);
    const older = new Date(Date.parse(lm) - 60_000).toUTCString();
    expect((await at('/plain/notes.txt', { range: 'bytes=0-1', 'if-range': older })).status).toBe(200);
  });

  it('a range of a streamed (large) file, and HEAD ignores Range', async () => {
    const r = await at('/plain/data.bin', { range: 'bytes=990-' });
    expect(r.status).toBe(206);
    expect(r.body).toEqual(Buffer.alloc(10, 7));
    const h = await at('/plain/data.bin', { range: 'bytes=0-1' }, 'HEAD');
    expect(h.status).toBe(200);
  });
});

describe('no way out of root', () => {
  // Each target is sent exactly as written. Whatever the status, the secret never comes back.
  const targets: [string, number][] = [
    ['/plain/../secret.txt', 404], // normalised to /secret.txt before routing: no route
    ['/plain/%2e%2e/secret.txt', 404], // %2e decoded, then the same
    ['/plain/%2E%2E/%2e%2e/secret.txt', 400], // a climb above / after decoding is refused
    ['/plain/..%2fsecret.txt', 400], // %2F is decoded in the parameter: the segment check refuses ..
    ['/plain/..%2Fsecret.txt', 400],
    ['/plain/%2e%2e%2fsecret.txt', 400],
    ['/plain/docs%2f..%2f..%2fsecret.txt', 400],
    ['/plain/..\\secret.txt', 400], // backslash refused by the normaliser
    ['/plain/..%5csecret.txt', 400],
    ['/plain/notes.txt%00.png', 400], // encoded NUL refused by the normaliser
    ['/plain/outside-link.txt', 404], // a symlink that leaves root
    ['/plain/up/secret.txt', 404], // a directory link that leaves root
    ['/plain/../../../../etc/passwd', 400], // climbs above / are refused outright
  ];
  for (const [target, status] of targets) {
    it(`${target} → ${status}`, async () => {
      const r = await at(target);
      expect(r.status).toBe(status);
      expect(r.body.toString()).not.toContain('TOP SECRET');
      expect(r.body.toString()).not.toContain('root:');
    });
  }

  it('a symlink that stays inside root is served; follow_symlinks: true serves one that leaves', async () => {
    expect((await at('/plain/inside-link')).body.toString()).toBe('0123456789abcdefghij');
    expect((await at('/links/outside-link.txt')).body.toString()).toBe('TOP SECRET\n');
  });
});

describe('dotfiles', () => {
  it('hidden by default (404), 403 with deny, served with allow; a dot directory too', async () => {
    expect((await at('/plain/.env')).status).toBe(404);
    expect((await at('/plain/.hidden/x.txt')).status).toBe(404);
    expect((await at('/deny/.env')).status).toBe(403);
    expect((await at('/dots/.env')).body.toString()).toBe('PASSWORD=x\n');
    expect((await at('/dots/.hidden/x.txt')).body.toString()).toBe('hidden\n');
  });
});

describe('precompressed', () => {
  it('br when accepted, else gzip, else the file; Vary: Accept-Encoding on all', async () => {
    const br = await at('/assets/app.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(br.headers['content-encoding']).toBe('br');
    expect(brotliDecompressSync(br.body).toString()).toBe(site.js);
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers.vary).toBe('Accept-Encoding');
    const gz = await at('/assets/app.js', { 'accept-encoding': 'gzip' });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(site.js);
    const none = await at('/assets/app.js');
    expect(none.headers['content-encoding']).toBeUndefined();
    expect(none.body.toString()).toBe(site.js);
    expect(none.headers.vary).toBe('Accept-Encoding');
  });

  it('q-values decide: br;q=0.5, gzip → gzip; br;q=0 → never br; identity when no variant exists', async () => {
    expect(
      (await at('/assets/app.js', { 'accept-encoding': 'br;q=0.5, gzip' })).headers['content-encoding'],
    ).toBe('gzip');
    expect(
      (await at('/assets/app.js', { 'accept-encoding': 'br;q=0, gzip;q=0' })).headers['content-encoding'],
    ).toBeUndefined();
    const css = await at('/assets/style.css', { 'accept-encoding': 'br, gzip' });
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.body.toString()).toBe('body { color: red }\n');
  });

  it('each encoding has its own ETag, so caches and If-None-Match keep them apart', async () => {
    const br = await at('/assets/app.js', { 'accept-encoding': 'br' });
    const plain = await at('/assets/app.js');
    expect(br.headers.etag).not.toBe(plain.headers.etag);
    const r = await at('/assets/app.js', {
      'accept-encoding': 'br',
      'if-none-match': br.headers.etag as string,
    });
    expect(r.status).toBe(304);
    expect(r.headers.vary).toBe('Accept-Encoding');
  });
});

describe('the open-file cache', () => {
  it('cache: 0s sees every change at once; the default (1s) within a second or so', async () => {
    const file = join(site.root, 'changing.txt');
    writeFileSync(file, 'one');
    expect((await at('/fresh/changing.txt')).body.toString()).toBe('one');
    expect((await at('/plain/changing.txt')).body.toString()).toBe('one');
    writeFileSync(file, 'two!');
    expect((await at('/fresh/changing.txt')).body.toString()).toBe('two!');
    const t0 = Date.now();
    await until(async () => (await at('/plain/changing.txt')).body.toString() === 'two!', 5000, 'the change');
    expect(Date.now() - t0).toBeLessThan(5000);
    rmSync(file);
    expect((await at('/fresh/changing.txt')).status).toBe(404);
    await until(async () => (await at('/plain/changing.txt')).status === 404, 5000, 'the removal');
  });
});

describe('config', () => {
  it('check names a root that does not exist or is not a directory, and a bad dotfiles value', () => {
    const problems = (yaml: string) => {
      try {
        parseConfig(yaml, join(site.dir, 'x.yaml'));
        return [];
      } catch (err) {
        return (err as ConfigError).problems;
      }
    };
    expect(problems('routes:\n  - { path: "/a/*", static: { root: nope } }')).toEqual([
      `routes[0].static: root ${join(site.dir, 'nope')} does not exist`,
    ]);
    expect(problems('routes:\n  - { path: "/a/*", static: { root: secret.txt } }')[0]).toMatch(
      /is not a directory/,
    );
    expect(problems('routes:\n  - { path: "/a/*", static: { root: public, dotfiles: show } }')[0]).toMatch(
      /^routes\[0\]\.static\.dotfiles: /,
    );
    expect(
      problems('routes:\n  - { path: "/a/*", static: { root: public, max_age: 1h, cache: 0s } }'),
    ).toEqual([]);
  });
});

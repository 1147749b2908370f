/**
 * The request checks uWS leaves to us (docs/uws.md), each on a raw socket with exact bytes:
 * status, a short reason, and `Connection: close` (the connection is closed after the answer).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { defaultEngine } from './helpers/engines.js';
import { parseResponse, raw } from './helpers/raw-client.js';
import { startServer, type TestServer } from './helpers/server.js';

const node = defaultEngine() === 'node';

let s: TestServer;

beforeAll(async () => {
  s = await startServer(`
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
limits: { body: 1KiB, headers: 20, header_bytes: 2KiB, uri: 256 }
routes:
  - { path: /read, handler: read }
  - { path: /ok, respond: { body: "ok\\n" } }
`);
});
afterAll(() => s.close());

async function refused(bytes: string, status: number, reason: RegExp) {
  const r = await raw(s.port, bytes);
  const res = parseResponse(r.text);
  expect(res.status).toBe(status);
  expect(res.body).toMatch(reason);
  expect(res.headers.connection).toEqual(['close']);
  expect(r.closed).toBe(true);
  return res;
}

describe('request checks', () => {
  it('a valid request is answered and the connection stays open', async () => {
    const r = await raw(s.port, 'GET /ok HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(parseResponse(r.text)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(r.closed).toBe(false);
  });

  it('differing duplicate Content-Length → 400', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
      400,
      /invalid content-length/,
    );
  });

  it('identical duplicate Content-Length: accepted on uws, 400 on node (llhttp; RFC 9110 §8.6 allows both)', async () => {
    const bytes = 'POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc';
    if (node) {
      await refused(bytes, 400, /invalid content-length/);
      return;
    }
    const r = await raw(s.port, bytes);
    expect(parseResponse(r.text)).toMatchObject({ status: 200, body: '{"length":3}' });
  });

  it('empty Content-Length → 400', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n',
      400,
      /invalid content-length/,
    );
  });

  it('a non-numeric Content-Length: closed by uWS before our code runs (known gap), 400 on node', async () => {
    const bytes = 'POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc';
    if (node) {
      await refused(bytes, 400, /invalid content-length/);
      return;
    }
    const r = await raw(s.port, bytes);
    expect(r).toMatchObject({ text: '', closed: true });
  });

  it('duplicate Host → 400', async () => {
    await refused('GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n', 400, /duplicate host/);
  });

  it('empty Host → 400', async () => {
    await refused('GET /ok HTTP/1.1\r\nHost: \r\n\r\n', 400, /host/);
  });

  it('Transfer-Encoding without chunked last → 400 (RFC 9112 §6.3)', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
      400,
      /invalid transfer-encoding/,
    );
  });

  it('Transfer-Encoding "gzip, chunked" → 501 (a coding we do not implement)', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      501,
      /unsupported transfer-encoding/,
    );
  });

  it('Transfer-Encoding "chunked, chunked" → 400', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      400,
      /invalid transfer-encoding/,
    );
  });

  it('two Transfer-Encoding fields → 400', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
      400,
      /invalid transfer-encoding/,
    );
  });

  // uWS's decoder is unsafe, so its listeners refuse chunked bodies; node's llhttp parses them
  // strictly (test/conformance.test.ts runs the chunked cases on both engines)
  it.skipIf(node)(
    'Transfer-Encoding: chunked (any case) → 411 unless the listener accepts chunked',
    async () => {
      await refused(
        'POST /read HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: Chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
        411,
        /Content-Length.*SY_ERR_CHUNKED_REFUSED/,
      );
    },
  );

  it('more header fields than limits.headers → 431', async () => {
    const fields = Array.from({ length: 21 }, (_, i) => `X-F${i}: v\r\n`).join('');
    await refused(`GET /ok HTTP/1.1\r\nHost: a\r\n${fields}\r\n`, 431, /too many header fields/);
  });

  it('more header bytes than limits.header_bytes → 431', async () => {
    await refused(
      `GET /ok HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(2100)}\r\n\r\n`,
      431,
      /header fields too large/,
    );
  });

  it('a target longer than limits.uri → 414', async () => {
    await refused(`GET /ok?${'q'.repeat(300)} HTTP/1.1\r\nHost: a\r\n\r\n`, 414, /request target too long/);
  });

  it('a path that climbs above the root → 400', async () => {
    await refused('GET /../ok HTTP/1.1\r\nHost: a\r\n\r\n', 400, /bad request path/);
  });

  it('a backslash in the path → 400', async () => {
    await refused('GET /a\\..\\ok HTTP/1.1\r\nHost: a\r\n\r\n', 400, /bad request path/);
  });

  it('an encoded NUL in the path → 400', async () => {
    await refused('GET /ok%00 HTTP/1.1\r\nHost: a\r\n\r\n', 400, /bad request path/);
  });

  it('Content-Length over the body cap → 413 before reading the body', async () => {
    await refused(
      'POST /read HTTP/1.1\r\nHost: a\r\nContent-Length: 5000\r\n\r\n',
      413,
      /request body too large/,
    );
  });

  it('routes on the normalised path', async () => {
    const r = await raw(s.port, 'GET /x/%2e%2e/ok HTTP/1.1\r\nHost: a\r\n\r\n');
    expect(parseResponse(r.text)).toMatchObject({ status: 200, body: 'ok\n' });
    expect(s.access.at(-1)).toMatchObject({ path: '/ok', route: '/ok' });
  });

  it('logs each refusal with its code', async () => {
    await raw(s.port, 'GET /ok HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(s.access.at(-1)).toMatchObject({ status: 400, err: 'SY_ERR_BAD_HOST' });
  });
});

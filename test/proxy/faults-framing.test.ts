/**
 * Upstream faults in the bytes (retries, timeouts and health are in faults.test.ts): an upstream
 * that frames its response badly, sends a head too large, answers before the request is finished,
 * or writes bytes nobody asked for on an idle keep-alive connection. Scripted on a raw TCP upstream (exact bytes), read by a
 * strict raw client.
 *
 * The rule for every case: nothing the upstream got wrong reaches the client as a valid-looking
 * response. Either a well-formed 502 (nothing was sent yet), or a head whose body is cut off by the
 * close (it was too late for a status), and the next request gets its own answer, never the
 * leftover bytes of a broken one.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawClient, values, type WireResponse } from '../helpers/raw-client.js';
import { type RecordingUpstream, recordingUpstream } from '../helpers/recording-upstream.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { GIVE_UP_MS, sleep, until } from '../helpers/wait.js';

/** What the scripted upstream answers for a path; other paths get `200 <path>`. */
const script = new Map<string, string | ((socket: net.Socket) => void)>();

let up: RecordingUpstream;
let p: TestServer;

const normal = (target: string) =>
  `HTTP/1.1 200 OK\r\nContent-Length: ${target.length}\r\nContent-Type: text/plain\r\n\r\n${target}`;

beforeAll(async () => {
  up = await recordingUpstream((req, socket) => {
    const s = script.get(req.target);
    if (s === undefined) socket.write(normal(req.target));
    else if (typeof s === 'string') socket.write(s);
    else s(socket);
  });
  p = await startServer(`
upstreams:
  u:
    servers: [{ url: "${up.url}" }]
    retries: { tries: 1 }
    health: { max_fails: 0 }
    timeouts: { connect: 1s, headers: 2s, idle: 1s }
routes: [{ path: "/*", proxy: u }]
`);
});
afterAll(async () => {
  await p.close();
  await up.close();
});

type Outcome =
  | { kind: 'response'; res: WireResponse; closed: boolean }
  | { kind: 'cut'; partial: string }
  | { kind: 'closed' };

/** One request on a fresh connection: the response (strictly parsed), or how it failed. */
async function ask(path: string, method = 'GET', body?: string): Promise<Outcome> {
  const c = await RawClient.connect(p.port);
  try {
    const framing = body === undefined ? '' : `Content-Length: ${body.length}\r\n`;
    c.write(`${method} ${path} HTTP/1.1\r\nHost: x\r\n${framing}\r\n${body ?? ''}`);
    const n = await c.next(5000, method === 'HEAD');
    if ('status' in n) {
      const closed = await c.closedWithin(50);
      expect(c.pending, 'nothing after the response').toBe('');
      return { kind: 'response', res: n, closed };
    }
    if ('timeout' in n) throw new Error(`no answer within 5 s: ${JSON.stringify(n.partial.slice(0, 200))}`);
    return n.truncated === undefined ? { kind: 'closed' } : { kind: 'cut', partial: c.received };
  } finally {
    c.destroy();
  }
}

/** A well-formed 502 naming the upstream's fault. */
function expectBadGateway(o: Outcome, code = 'SY_ERR_UPSTREAM_BAD_RESPONSE'): void {
  if (o.kind !== 'response') throw new Error(`expected a 502, got ${JSON.stringify(o)}`);
  expect(o.res.status).toBe(502);
  expect(o.res.problems).toEqual([]);
  expect(o.res.body.toString()).toContain(code);
}

/**
 * Never a valid-looking response: a 502 (the failure came before anything was sent), a head whose
 * body is cut off by the close, or a close with nothing at all (the head was still in uWS's buffer,
 * waiting for the first body byte, when the body failed).
 */
function expectNeverComplete(o: Outcome, leaked?: string): void {
  if (o.kind === 'response') {
    expectBadGateway(o);
    return;
  }
  if (o.kind === 'closed') return;
  expect(o.partial).toMatch(/^HTTP\/1\.1 200 /);
  if (leaked !== undefined) expect(o.partial).not.toContain(leaked);
}

/** After a fault, a new request on the (re-used or new) upstream connection gets its own answer. */
async function expectNextIsItsOwn(tag: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const path = `/next-${tag}-${i}`;
    const o = await ask(path);
    if (o.kind !== 'response') throw new Error(`${path}: ${JSON.stringify(o)}`);
    expect(o.res.status, path).toBe(200);
    expect(o.res.body.toString(), path).toBe(path);
  }
}

describe('bad framing from the upstream', () => {
  it.each([
    [
      'both Content-Length and Transfer-Encoding',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
    ],
    [
      'two different Content-Length fields',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!',
    ],
    ['Content-Length "5, 6"', 'HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!'],
    ['a negative Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: -5\r\n\r\nhello'],
    ['a non-numeric Content-Length', 'HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nhello'],
    ['a response header with obs-fold', 'HTTP/1.1 200 OK\r\nX-A: a\r\n b\r\nContent-Length: 2\r\n\r\nok'],
    ['a bare CR in a response header', 'HTTP/1.1 200 OK\r\nX-A: a\rb\r\nContent-Length: 2\r\n\r\nok'],
    ['a NUL in a response header', 'HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 2\r\n\r\nok'],
    ['status 600', 'HTTP/1.1 600 Odd\r\nContent-Length: 2\r\n\r\nok'],
    [
      'a 101 nobody asked for',
      'HTTP/1.1 101 Switching Protocols\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n',
    ],
  ])('%s: a 502, never a response carrying it', async (name, reply) => {
    const path = `/frame-${name.replace(/\W+/g, '-')}`;
    script.set(path, reply);
    const o = await ask(path);
    expectBadGateway(o);
    await expectNextIsItsOwn(path.slice(1));
  });

  // The head is fine, so it may be on its way when the body turns out bad (as with nginx).
  it.each([
    ['a bad chunk size', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    [
      'a chunk size that overflows 64 bits',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\nhello\r\n0\r\n\r\n',
    ],
    [
      'a negative chunk size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n',
    ],
    [
      'chunk data longer than its size',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n',
    ],
  ])('%s: a 502 or a cut-off body, never complete', async (name, reply) => {
    const path = `/chunk-${name.replace(/\W+/g, '-')}`;
    script.set(path, reply);
    expectNeverComplete(await ask(path), 'hello');
    await expectNextIsItsOwn(path.slice(1));
  });

  it.each([
    [
      'a chunked body without its last chunk',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n',
    ],
    ['a Content-Length body cut short', 'HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello'],
    ['a chunk cut in the middle', 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\nhello'],
  ])('%s, then the close: a 502 or a cut-off body, never complete', async (name, reply) => {
    const path = `/cut-${name.replace(/\W+/g, '-')}`;
    script.set(path, (socket) => {
      socket.write(reply);
      setTimeout(() => socket.destroy(), 30);
    });
    expectNeverComplete(await ask(path));
    await expectNextIsItsOwn(path.slice(1));
  });

  it.each([
    ['204 with a Content-Length body', 'HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\nhello', 204],
    [
      '204 with a chunked body',
      'HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
      204,
    ],
    ['304 with a body', 'HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello', 304],
  ])(
    '%s: no body reaches the client, and the leftover bytes never answer another request',
    async (name, reply, status) => {
      const path = `/nobody-${name.replace(/\W+/g, '-')}`;
      script.set(path, reply);
      const o = await ask(path);
      if (o.kind !== 'response') throw new Error(JSON.stringify(o));
      expect(o.res.status).toBe(status);
      expect(o.res.problems).toEqual([]);
      expect(o.res.raw).not.toContain('hello');
      expect(values(o.res, 'content-length')).toEqual([]);
      expect(values(o.res, 'transfer-encoding')).toEqual([]);
      await expectNextIsItsOwn(path.slice(1));
    },
  );

  it('a body on a HEAD response: the client gets the head only, the next request its own answer', async () => {
    script.set('/head-with-body', 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello');
    const o = await ask('/head-with-body', 'HEAD');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    expect(o.res.status).toBe(200);
    expect(o.res.raw).not.toContain('hello');
    expect(values(o.res, 'content-length')).toEqual(['5']);
    await expectNextIsItsOwn('head-with-body');
  });

  it('a close-delimited body (no length, RFC 9112 §6.3 rule 8) is re-framed for the client', async () => {
    script.set('/close-delimited', (socket) => {
      socket.end('HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the close');
    });
    const o = await ask('/close-delimited');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    expect(o.res.status).toBe(200);
    expect(o.res.problems).toEqual([]);
    expect(o.res.framing).not.toBe('close');
    expect(o.res.body.toString()).toBe('until the close');
  });

  it('an interim 103 before the final response is not passed on', async () => {
    script.set('/interim', `HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n${normal('/interim')}`);
    const o = await ask('/interim');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    expect(o.res.status).toBe(200);
    expect(o.res.body.toString()).toBe('/interim');
    expect(values(o.res, 'link')).toEqual([]);
  });

  // RFC 9110 §15.2 wants clients to parse any 1xx; undici refuses a 100 it did not ask for (the
  // proxy never forwards Expect), so it is a bad response
  it('an unsolicited 100 Continue: a 502', async () => {
    script.set('/continue', `HTTP/1.1 100 Continue\r\n\r\n${normal('/continue')}`);
    expectBadGateway(await ask('/continue'));
    await expectNextIsItsOwn('continue');
  });
});

// RFC 9110 §8.6 allows a recipient to take identical values as one; undici (llhttp) refuses them
describe('two identical Content-Length fields', () => {
  it('a 502 (undici refuses duplicates)', async () => {
    script.set(
      '/same-length-twice',
      'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello',
    );
    expectBadGateway(await ask('/same-length-twice'));
    await expectNextIsItsOwn('same-length-twice');
  });
});

describe('oversized response heads', () => {
  it.each([
    ['one 64 KiB field', `HTTP/1.1 200 OK\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\nContent-Length: 2\r\n\r\nok`],
    [
      '3,000 small fields',
      `HTTP/1.1 200 OK\r\n${Array.from({ length: 3000 }, (_, i) => `X-${i}: v\r\n`).join('')}Content-Length: 2\r\n\r\nok`,
    ],
  ])('%s: a 502', async (name, reply) => {
    const path = `/big-${name.replace(/\W+/g, '-')}`;
    script.set(path, reply);
    expectBadGateway(await ask(path));
    await expectNextIsItsOwn(path.slice(1));
  });
});

describe('an upstream that answers before the request is finished', () => {
  it('a complete early answer (413) while the client still uploads: passed on, then closed', async () => {
    // answer as soon as the head arrives, and never read the rest
    const early = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write(
          'HTTP/1.1 413 Payload Too Large\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n',
        );
        setTimeout(() => socket.destroy(), 200);
      });
    });
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    const q = await startServer(`
upstreams: { e: { servers: [{ url: "http://127.0.0.1:${(early.address() as net.AddressInfo).port}" }], retries: { tries: 1 } } }
routes: [{ path: "/*", proxy: e }]
`);
    try {
      const c = await RawClient.connect(q.port);
      c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      c.write('a'.repeat(1000));
      const n = await c.next(3000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(413);
      expect(n.problems).toEqual([]);
      expect(n.body.toString()).toBe('too big\n');
      // the client's body is unread: the connection must not be reused
      expect(values(n, 'connection')).toEqual(['close']);
      expect(await c.closedWithin(GIVE_UP_MS)).toBe(true);
      c.destroy();
    } finally {
      await q.close();
      await new Promise<void>((r) => early.close(() => r()));
    }
  });

  it('garbage while the request body is still being sent: a 502', async () => {
    const early = net.createServer((socket) => {
      socket.on('error', () => {});
      socket.once('data', () => socket.write('this is not HTTP\r\n\r\n'));
    });
    await new Promise<void>((r) => early.listen(0, '127.0.0.1', r));
    const q = await startServer(`
upstreams: { e: { servers: [{ url: "http://127.0.0.1:${(early.address() as net.AddressInfo).port}" }], retries: { tries: 1 } } }
routes: [{ path: "/*", proxy: e }]
`);
    try {
      const c = await RawClient.connect(q.port);
      c.write('POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n');
      c.write('a'.repeat(1000));
      const n = await c.next(3000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(502);
      expect(n.problems).toEqual([]);
      expect(await c.closedWithin(GIVE_UP_MS)).toBe(true);
      c.destroy();
    } finally {
      await q.close();
      await new Promise<void>((r) => early.close(() => r()));
    }
  });
});

describe('bytes nobody asked for', () => {
  it('an unsolicited response on an idle keep-alive connection never answers the next request', async () => {
    let forged = false;
    script.set('/then-unsolicited', (socket) => {
      socket.write(normal('/then-unsolicited'));
      setTimeout(() => socket.write(normal('/FORGED'), () => (forged = true)), 50);
    });
    const o = await ask('/then-unsolicited');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    expect(o.res.body.toString()).toBe('/then-unsolicited');
    await until(() => forged, 'the forged bytes on the idle connection');
    await expectNextIsItsOwn('after-unsolicited');
  });

  it('a second response in the same write as the first never answers the next request', async () => {
    script.set('/two-at-once', normal('/two-at-once') + normal('/FORGED'));
    const o = await ask('/two-at-once');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    expect(o.res.body.toString()).toBe('/two-at-once');
    await expectNextIsItsOwn('after-two-at-once');
  });

  it('garbage on an idle keep-alive connection is not an error for the next request', async () => {
    let garbage = false;
    script.set('/then-garbage', (socket) => {
      socket.write(normal('/then-garbage'));
      setTimeout(() => socket.write('\r\n\r\ngarbage\r\n', () => (garbage = true)), 50);
    });
    const o = await ask('/then-garbage');
    if (o.kind !== 'response') throw new Error(JSON.stringify(o));
    await until(() => garbage, 'the garbage on the idle connection');
    await expectNextIsItsOwn('after-garbage');
  });
});

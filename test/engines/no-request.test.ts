/**
 * Connections closed without a request (issue 12, item 10), through the built CLI on node
 * listeners: counted and written to the error log as one line per interval (`log.no_request_interval`)
 * with the count by reason, never a line per connection, and no line when there were none; what is
 * left at shutdown is written then. (uWS cannot see connections: README, "What the uWS build cannot do".)
 */
import http2 from 'node:http2';
import { connect as tlsConnect } from 'node:tls';
import { afterEach, describe, expect, it } from 'vitest';
import { NO_REQUEST_MSG } from '../../src/observe/no-request.js';
import { makeCerts } from '../helpers/certs.js';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { RawClient } from '../helpers/raw-client.js';
import { localPace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { GIVE_UP_MS, settle, until } from '../helpers/wait.js';

let cli: StartedCli | undefined;

afterEach(async () => {
  await cli?.stop();
  cli = undefined;
});

interface Summary {
  connections: number;
  reasons: Record<string, number>;
  interval_ms: number;
}

function summaries(c: StartedCli): Summary[] {
  return (c.stdout() + c.stderr())
    .split('\n')
    .filter((l) => l.startsWith('{') && l.includes(NO_REQUEST_MSG))
    .map((l) => JSON.parse(l) as Summary);
}

/** A complete request on its own connection, answered (never counted). */
async function request(port: number): Promise<void> {
  const c = await RawClient.connect(port);
  try {
    c.write('GET /h HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n');
    const n = await c.next(10_000);
    expect('status' in n && n.status).toBe(200);
  } finally {
    c.destroy();
  }
}

/** An HTTP/2 session that sends one request or none, then closes. */
async function h2Session(url: string, withRequest: boolean): Promise<void> {
  const session = http2.connect(url, { rejectUnauthorized: false });
  session.on('error', () => {});
  await new Promise((r) => session.once('connect', r));
  if (withRequest) {
    const req = session.request({ ':path': '/h' });
    req.resume();
    await new Promise((r) => req.once('end', r));
  }
  await new Promise<void>((r) => session.close(() => r()));
}

/** Wait until the server holds no more descriptors than `base` (every connection it had is closed). */
async function allClosed(c: StartedCli, base: number): Promise<void> {
  expect(await settle(() => c.fds(), { target: (n) => n <= base })).toBeLessThanOrEqual(base);
}

describe('connections closed without a request (node engine)', () => {
  it('one summary line per interval with the count of connections closed without a request', async () => {
    // The interval is the window a burst of closes must fall in: 300 ms on a quiet machine, scaled.
    const interval = Math.ceil(scaled(300, await localPace(), QUIET_PACE_MS.local));
    cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout, no_request_interval: ${interval}ms }
routes: [{ path: /h, respond: { body: "h\\n" } }]
`);
    const base = cli.fds();
    await request(cli.port);
    const N = 7;
    const open = await Promise.all(Array.from({ length: N }, () => RawClient.connect(cli!.port)));
    open[0]!.write('GET /h HTTP/1.1\r\nHo'); // part of a head, then gone: closed too
    await until(() => cli!.fds() >= base + N, 'the server to accept every connection');
    for (const c of open) c.destroy();
    const [line] = await until(
      () => (summaries(cli!).length > 0 ? summaries(cli!) : undefined),
      interval + GIVE_UP_MS,
      `the line (interval ${interval} ms)`,
    );
    expect(line).toMatchObject({ connections: N, reasons: { closed: N }, interval_ms: interval });
    // the shutdown writes whatever was counted since: nothing, so still one line
    await allClosed(cli, base);
    cli.kill('SIGTERM');
    await cli.exited;
    expect(summaries(cli)).toHaveLength(1);
  }, 120_000);

  it('no line when every connection sent a request (the shutdown writes what was counted: nothing)', async () => {
    cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout, no_request_interval: 1h }
routes: [{ path: /h, respond: { body: "h\\n" } }]
`);
    const base = cli.fds();
    for (let i = 0; i < 3; i++) await request(cli.port);
    const kept = await RawClient.connect(cli.port); // keep-alive: two requests, then the client leaves
    kept.write('GET /h HTTP/1.1\r\nHost: a\r\n\r\nGET /h HTTP/1.1\r\nHost: a\r\n\r\n');
    for (let i = 0; i < 2; i++) expect(await kept.next(10_000)).toMatchObject({ status: 200 });
    kept.destroy();
    await allClosed(cli, base);
    cli.kill('SIGTERM');
    await cli.exited;
    expect(summaries(cli)).toEqual([]);
    expect(cli.accessLog()).toHaveLength(5);
  }, 60_000);

  it('counts by reason (closed, timeout, malformed, tls) and writes what is left at shutdown', async () => {
    const certs = makeCerts();
    cli = await startCli(`
listen:
  - { host: 127.0.0.1, port: 0, engine: node }
  - { host: 127.0.0.1, port: 0, engine: node, tls: { cert: ${certs.local.cert}, key: ${certs.local.key} } }
  - { host: 127.0.0.1, port: 0, engine: node, h2c: true }
log: { level: info, access: stdout }
limits: { header_timeout: 300ms }
routes: [{ path: /h, respond: { body: "h\\n" } }]
`);
    const [plain, secure, h2c] = cli.ports as [number, number, number];
    const base = cli.fds();
    await request(plain);

    // plain: two that close at once, one silent (408 after header_timeout), one malformed (400)
    const gone = await Promise.all([RawClient.connect(plain), RawClient.connect(plain)]);
    await until(() => cli!.fds() >= base + 2, 'the server to accept both');
    for (const c of gone) c.destroy();
    const silent = await RawClient.connect(plain);
    const bad = await RawClient.connect(plain);
    bad.write('GET /h HTTP/1.1\r\nno colon here\r\n\r\n');
    expect(await silent.closedWithin(20_000)).toBe(true);
    expect(silent.received).toMatch(/^HTTP\/1\.1 408 /);
    expect(await bad.closedWithin(20_000)).toBe(true);
    expect(bad.received).toMatch(/^HTTP\/1\.1 400 /);
    await allClosed(cli, base);

    // TLS: a TCP probe that leaves, a silent one (handshake timeout), plain HTTP (the handshake
    // fails), and a finished handshake that sends nothing
    const probe = await RawClient.connect(secure);
    await until(() => cli!.fds() >= base + 1, 'the server to accept the probe');
    probe.destroy();
    const quiet = await RawClient.connect(secure);
    const cleartext = await RawClient.connect(secure);
    cleartext.write('GET /h HTTP/1.1\r\nHost: a\r\n\r\n');
    const handshook = tlsConnect({ host: '127.0.0.1', port: secure, rejectUnauthorized: false });
    handshook.on('error', () => {});
    await new Promise((r) => handshook.once('secureConnect', r));
    handshook.destroy();
    expect(await quiet.closedWithin(20_000)).toBe(true);
    expect(await cleartext.closedWithin(20_000)).toBe(true);

    // HTTP/2 sessions (over TLS, and h2c): one with a request (not counted), two without
    await h2Session(`https://127.0.0.1:${secure}`, true);
    await h2Session(`https://127.0.0.1:${secure}`, false);
    await h2Session(`http://127.0.0.1:${h2c}`, false);

    await allClosed(cli, base);
    expect(summaries(cli)).toEqual([]); // the default interval (60 s) has not passed
    cli.kill('SIGTERM');
    await cli.exited;
    expect(summaries(cli)).toEqual([
      {
        ...summaries(cli)[0],
        connections: 10,
        reasons: { closed: 6, timeout: 2, malformed: 1, tls: 1 },
        interval_ms: 60_000,
      },
    ]);
  }, 60_000);

  it('log.no_request_interval: off writes no such line', async () => {
    cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout, no_request_interval: off }
routes: [{ path: /h, respond: { body: "h\\n" } }]
`);
    const base = cli.fds();
    const c = await RawClient.connect(cli.port);
    await until(() => cli!.fds() > base, 'the connection accepted');
    c.destroy();
    await allClosed(cli, base);
    cli.kill('SIGTERM');
    await cli.exited;
    expect(summaries(cli)).toEqual([]);
  }, 60_000);
});

/**
 * End-to-end: the built CLI as a child process — check, version, help, start-up failures, serving
 * the default config, drain on SIGTERM, and the uWS fallback guard.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { freePort, runCli, runCliToEnd, startCli, tempFile } from './helpers/cli.js';
import { RawClient, type WireResponse } from './helpers/raw-client.js';
import { localPace, QUIET_PACE_MS, scaled } from './helpers/timing.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');

function get(port: number, path: string): Promise<{ status: number; body: string; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body, ms: performance.now() - t0 }));
    });
    req.on('error', reject);
    req.end();
  });
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.on('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

describe('switchyard CLI', () => {
  it('version', async () => {
    const r = await runCliToEnd(['version']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^switchyard \d+\.\d+\.\d+ \(node v\d+/);
    expect(r.stdout).toContain(`(node ${process.version}`);
  });

  it('--help', async () => {
    const r = await runCliToEnd(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('usage: switchyard <command>');
    expect(r.stdout).toContain('check [-c FILE]');
  });

  it('an unknown command or option is a usage error (exit 2)', async () => {
    expect((await runCliToEnd(['frobnicate'])).code).toBe(2);
    expect((await runCliToEnd(['start', '--nope'])).code).toBe(2);
    expect((await runCliToEnd([])).code).toBe(2);
  });

  it('check: the default configuration is ok', async () => {
    const r = await runCliToEnd(['check']);
    expect(r.stdout).toMatch(/conf\/switchyard\.yaml: configuration ok\n$/);
    expect(r.code).toBe(0);
  });

  it('check: prints every problem with its path and exits 1', async () => {
    const file = tempFile(
      'bad.yaml',
      [
        'limits: { body: lots }',
        'routes:',
        '  - { path: /a, respond: { body: a } }',
        '  - { path: /b, proxy: api }',
        '  - { path: /c, handler: hello, timout: 1s }',
      ].join('\n'),
    );
    const r = await runCliToEnd(['check', '-c', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('3 configuration problems');
    expect(r.stderr).toContain('limits.body: invalid size "lots"');
    expect(r.stderr).toContain('routes[2].timout: unknown key');
    const r2 = await runCliToEnd([
      'check',
      '-c',
      tempFile('b.yaml', 'routes:\n  - { path: /b, proxy: api }'),
    ]);
    expect(r2.stderr).toContain('routes[0].proxy: unknown upstream "api"');
    expect(r2.code).toBe(1);
  });

  it('start: an unreadable file is one clear line, exit 1', async () => {
    const r = await runCliToEnd(['start', '-c', '/nonexistent/switchyard.yaml']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^switchyard: \/nonexistent\/switchyard\.yaml: 1 configuration problem\n {2}\(file\): cannot read: ENOENT\n$/,
    );
  });

  it('start: a port in use is one clear line, exit 1', async () => {
    const port = await freePort();
    const first = await startCli(`listen:\n  - { host: 127.0.0.1, port: ${port} }\nlog: { access: off }\n`);
    try {
      const r = await runCliToEnd([
        'start',
        '-c',
        tempFile('c.yaml', `listen:\n  - { host: 127.0.0.1, port: ${port} }\n`),
      ]);
      expect(r.code).toBe(1);
      // named by its config path, with the reason (uWS gives none: a node:net bind learns it)
      const lines = r.stderr.trim().split('\n');
      expect(lines).toEqual([`switchyard: listen[0]: cannot listen on 127.0.0.1:${port} (address in use)`]);
    } finally {
      first.kill();
      await first.exited;
    }
  });

  it('start: an address not on this machine, or a bad host, is named with its key and the reason', async () => {
    const port = await freePort();
    const r = await runCliToEnd([
      'start',
      '-c',
      tempFile(
        'c.yaml',
        `listen:\n  - { host: 127.0.0.1, port: ${port} }\n  - { host: 192.0.2.1, port: ${port} }\n`,
      ),
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr.trim()).toBe(
      `switchyard: listen[1]: cannot listen on 192.0.2.1:${port} (no such address on this machine)`,
    );
    for (const [host, says] of [
      ['""', 'listen[0].host: empty: 0.0.0.0 or :: for every interface'],
      ['"[::1]"', 'listen[0].host: an IPv6 address without brackets: ::1'],
      ['999.1.1.1', 'listen[0].host: "999.1.1.1" is not an IP address or a host name'],
    ] as const) {
      const c = await runCliToEnd([
        'check',
        '-c',
        tempFile('h.yaml', `listen:\n  - { host: ${host}, port: ${port} }\n`),
      ]);
      expect([host, c.code, c.stderr]).toEqual([host, 1, expect.stringContaining(says)]);
    }
  });

  it('start: serves the default configuration', async () => {
    const c = runCli(['start']);
    try {
      await c.waitFor(/listening on 127\.0\.0\.1:8080/);
      const r = await get(8080, '/hello');
      expect(r).toMatchObject({ status: 200, body: 'Hello world!' });
      await c.waitFor(/"path":"\/hello".*"status":200/);
    } finally {
      c.kill();
      expect(await c.exited).toBe(0);
    }
  });

  it('drain: an in-flight request completes after SIGTERM, new connections are refused, exit 0', async () => {
    const c = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nroutes_dir: ${fixtures}\nshutdown: { grace: 5s }\nroutes:\n  - { path: /gate, handler: gate }\n`,
    );
    const port = c.ports[0]!;
    // in flight: the handler has the request and waits for its body, sent after the drain began
    const client = await RawClient.connect(port);
    client.write('POST /gate HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\n');
    await c.waitFor(/at the gate/);
    c.kill('SIGTERM');
    await c.waitFor(/draining/);
    expect(await canConnect(port)).toBe(false);
    client.write('ok');
    const r = await client.next(10_000);
    expect(r).toMatchObject({ status: 200 });
    expect((r as WireResponse).body.toString()).toBe('passed ok');
    client.destroy();
    expect(await c.exited).toBe(0);
    expect(c.stdout()).toMatch(/"path":"\/gate".*"status":200/);
  });

  it('drain: past the grace period what remains is cancelled (503) and the process exits 0', async () => {
    const c = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nroutes_dir: ${fixtures}\nshutdown: { grace: 300ms }\nroutes:\n  - { path: /sleep, handler: sleep }\n`,
    );
    const slow = get(c.ports[0]!, '/sleep?ms=10000&tell');
    await c.waitFor(/"msg":"sleeping"/);
    const paceMs = await localPace();
    const t0 = performance.now();
    c.kill('SIGTERM');
    const r = await slow;
    expect(r.status).toBe(503);
    expect(r.body).toContain('SY_ERR_SHUTTING_DOWN');
    // the grace (300 ms), not the handler's 10 s
    expect(performance.now() - t0).toBeLessThan(scaled(2000, paceMs, QUIET_PACE_MS.local));
    expect(await c.exited).toBe(0);
  });

  it('a second signal exits at once', async () => {
    const c = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nroutes_dir: ${fixtures}\nshutdown: { grace: 30s }\nroutes:\n  - { path: /sleep, handler: sleep }\n`,
    );
    const slow = get(c.ports[0]!, '/sleep?ms=20000&tell').catch(() => 'reset');
    await c.waitFor(/"msg":"sleeping"/);
    c.kill('SIGTERM');
    await c.waitFor(/draining/);
    const paceMs = await localPace();
    const t0 = performance.now();
    c.kill('SIGINT');
    expect(await c.exited).toBe(1);
    // at once, not after the 30 s grace
    expect(performance.now() - t0).toBeLessThan(scaled(1000, paceMs, QUIET_PACE_MS.local));
    await slow;
    // the request it cut still has its access line: no status written, closed by the server
    expect(c.accessLog().find((l) => l.path === '/sleep')).toMatchObject({
      status: 0,
      closed_by: 'server',
      err: 'SY_ERR_SHUTTING_DOWN',
    });
  });

  it('log.access: a file path gets the access log, off writes none', async () => {
    const file = tempFile('placeholder', '').replace(/placeholder$/, 'logs/access.log');
    const c = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nlog: { access: ${file} }\nroutes:\n  - { path: /ok, respond: { body: ok } }\n`,
    );
    expect((await get(c.ports[0]!, '/ok')).status).toBe(200);
    c.kill();
    expect(await c.exited).toBe(0);
    const lines = readFileSync(file, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ method: 'GET', path: '/ok', status: 200 });
    expect(c.stdout()).toBe('');

    const off = await startCli(
      `listen:\n  - { host: 127.0.0.1, port: 0 }\nlog: { access: off }\nroutes:\n  - { path: /ok, respond: { body: ok } }\n`,
    );
    expect((await get(off.ports[0]!, '/ok')).status).toBe(200);
    off.kill();
    expect(await off.exited).toBe(0);
    expect(off.stdout()).toBe('');
    expect(off.stderr()).not.toContain('"path":"/ok"');
  });

  it('where uWS cannot load, an explicit engine: uws is a start-up error naming Node, the platform and what to do', async () => {
    const conf = tempFile('uws.yaml', 'listen: [{ host: 127.0.0.1, port: 0, engine: uws }]\n');
    const r = await runCliToEnd(['start', '-c', conf], { UWS_USE_FALLBACK: '1' });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('listen[0].engine is uws, but');
    expect(r.stderr).toContain(`native binary did not load for Node ${process.version}`);
    expect(r.stderr).toContain(`on ${process.platform}-${process.arch}`);
    expect(r.stderr).toContain('reinstall with npm ci');
    const r2 = await runCliToEnd(['start', '-c', conf], {
      UWS_USE_FALLBACK: '1',
      SWITCHYARD_ALLOW_UWS_FALLBACK: '1',
    });
    expect(r2.code).toBe(1);
    expect(r2.stderr).toContain('this fallback cannot serve Switchyard');
  });

  it('where uWS cannot load, the default engine is node, said once at start-up', async () => {
    const cli = await startCli(
      `listen: [{ host: 127.0.0.1, port: 0 }]\nroutes: [{ path: /x, respond: { body: "x" } }]\n`,
      { UWS_USE_FALLBACK: '1', SWITCHYARD_ENGINE: '' },
    );
    try {
      const out = cli.stdout() + cli.stderr();
      expect(out.match(/engine: node is the default here/g)).toHaveLength(1);
      expect(out).toContain('native binary did not load');
      expect((await get(cli.ports[0]!, '/x')).body).toBe('x');
    } finally {
      cli.kill();
      await cli.exited;
    }
  });
});

/**
 * Signals and log files, end to end with the built CLI: lines reach the file within the flush
 * period with no traffic; logrotate's sequence (rename, then USR1) moves writing to the new file
 * with no line lost; USR1 never opens the inspector; QUIT drains and exits 0; a crash writes its
 * error line; a second instance on the same pid file is refused; the new access-log fields.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { request } from 'undici';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { freePort, runCli } from '../helpers/cli.js';

const API = pathToFileURL(join(packageRoot, 'dist', 'src', 'api.js')).href;

function lines(file: string): Record<string, unknown>[] {
  let text = '';
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  return text
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

async function poll<T>(what: string, fn: () => T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function setup(extra = '') {
  const dir = mkdtempSync(join(tmpdir(), 'sy-logs-'));
  mkdirSync(join(dir, 'routes'));
  writeFileSync(
    join(dir, 'routes', 'crash.js'),
    `import { text } from '${API}';\nexport default () => { setTimeout(() => { throw new Error('boom from a timer'); }, 10); return text('ok'); };\n`,
  );
  const port = await freePort();
  const conf = join(dir, 'switchyard.yaml');
  writeFileSync(
    conf,
    `listen: [{ host: 127.0.0.1, port: ${port} }]
routes_dir: routes
pid: run/sy.pid
trusted_proxies: [loopback]
log: { level: info, access: ${join(dir, 'access.log')}, error: ${join(dir, 'error.log')} }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: /crash, handler: crash }
${extra}`,
  );
  return { dir, port, conf, access: join(dir, 'access.log'), error: join(dir, 'error.log') };
}

const get = async (port: number, path: string, headers: Record<string, string> = {}) => {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: r.statusCode, text: await r.body.text() };
};

describe('log files', () => {
  it('a line reaches the file within the flush period, with no traffic (was: held until 4 KiB)', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    try {
      // The "listening on" line is the only one: far below the 4 KiB batch.
      // 30 s: a give-up time for the CLI's start on a loaded machine, not a claim
      await poll(
        'the listening line in the file',
        () => lines(s.error).find((l) => /listening on/.test(String(l.msg))),
        30_000,
      );
      await get(s.port, '/a');
      await poll('one access line', () => lines(s.access).length === 1);
    } finally {
      cli.kill('SIGTERM');
      await cli.exited;
    }
  });

  it("logrotate's rename + USR1 moves writing to the new file with no line lost, and never opens 9229", async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    for (let i = 0; i < 20; i++) await get(s.port, `/a?before=${i}`);
    renameSync(s.access, `${s.access}.1`);
    for (let i = 0; i < 20; i++) await get(s.port, `/a?between=${i}`);
    cli.kill('SIGUSR1');
    await poll('reopened', () => lines(s.error).find((l) => l.msg === 'log files reopened'));
    for (let i = 0; i < 20; i++) await get(s.port, `/a?after=${i}`);
    // Nothing listens on the inspector's port after USR1.
    const inspector = await new Promise<string>((resolve) => {
      const c = connect(9229, '127.0.0.1');
      c.on('connect', () => {
        c.destroy();
        resolve('open');
      });
      c.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(inspector).toBe('ECONNREFUSED');
    cli.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
    expect(cli.stderr()).not.toMatch(/Debugger listening/);
    const old = lines(`${s.access}.1`);
    const now = lines(s.access);
    const queries = [...old, ...now].map((l) => String(l.query));
    expect(queries).toHaveLength(60);
    expect(new Set(queries).size).toBe(60);
    // Everything sent after the reopen is in the new file; everything before the rename in the old.
    expect(now.filter((l) => String(l.query).startsWith('after')).length).toBe(20);
    expect(old.filter((l) => String(l.query).startsWith('before')).length).toBe(20);
  });

  it('a reopen that cannot open the new file is said in the error log; serving and logging go on in the old file', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    await get(s.port, '/a?before=1');
    renameSync(s.access, `${s.access}.1`);
    mkdirSync(s.access); // what stands at the path cannot be opened for appending (EISDIR)
    cli.kill('SIGUSR1');
    const said = await poll('the failure', () =>
      lines(s.error).find((l) => String(l.msg).startsWith(`cannot reopen log file ${s.access}`)),
    );
    expect(String(said.msg)).toContain('EISDIR');
    await poll('the warning', () =>
      lines(s.error).find((l) => String(l.msg).startsWith('log files reopened but')),
    );
    expect((await get(s.port, '/a?after=1')).status).toBe(200);
    await poll('the line in the old file', () => lines(`${s.access}.1`).find((l) => l.query === 'after=1'));
    cli.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });

  it('a log path that cannot be opened fails check and start with its key, before the pid file', async () => {
    const s = await setup();
    mkdirSync(s.access); // a directory where the access log should be
    const check = runCli(['check', '-c', s.conf]);
    expect(await check.exited).toBe(1);
    expect(check.stderr()).toContain(`log.access: cannot open ${s.access} for appending: EISDIR`);
    const start = runCli(['start', '-c', s.conf]);
    expect(await start.exited).toBe(1);
    expect(start.stderr()).toContain(`log.access: cannot open ${s.access} for appending: EISDIR`);
    expect(start.stderr()).not.toMatch(/^\s+at /m);
    expect(existsSync(join(s.dir, 'run', 'sy.pid'))).toBe(false);
  });

  it('access lines carry host, user_agent, referer, peer, and the client from X-Forwarded-For of a trusted proxy', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    await get(s.port, '/a', {
      'user-agent': 'probe/1',
      referer: 'http://ref.example/',
      'x-forwarded-for': '203.0.113.9',
    });
    cli.kill('SIGTERM');
    await cli.exited;
    const [line] = lines(s.access);
    expect(line).toMatchObject({
      host: `127.0.0.1:${s.port}`,
      user_agent: 'probe/1',
      referer: 'http://ref.example/',
      peer: '127.0.0.1',
      client: '203.0.113.9',
    });
  });
});

describe('signals', () => {
  it('QUIT drains and exits 0, removing the pid file; a second instance on the same pid file is refused', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    const pid = readFileSync(join(s.dir, 'run', 'sy.pid'), 'utf8').trim();
    expect(pid).toBe(String(cli.child.pid));
    const second = runCli(['start', '-c', s.conf]);
    expect(await second.exited).toBe(1);
    expect(second.stderr()).toMatch(/another instance is running \(pid \d+\)/);
    cli.kill('SIGQUIT');
    expect(await cli.exited).toBe(0);
    expect(lines(s.error).map((l) => l.msg)).toEqual(
      expect.arrayContaining(['draining', 'drained, exiting']),
    );
    expect(() => readFileSync(join(s.dir, 'run', 'sy.pid'))).toThrow();
  });

  it('a crash (an exception nobody catches) writes its error line and every access line, then exits 1', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    for (let i = 0; i < 5; i++) await get(s.port, `/a?n=${i}`);
    await get(s.port, '/crash');
    expect(await cli.exited).toBe(1);
    const fatal = lines(s.error).find((l) => l.level === 60);
    expect(fatal?.msg).toMatch(/uncaught exception, exiting: boom from a timer/);
    expect(lines(s.access)).toHaveLength(6);
  });

  it('USR2 and WINCH are logged and ignored', async () => {
    const s = await setup();
    const cli = runCli(['start', '-c', s.conf]);
    await poll('start', () => lines(s.error).find((l) => /listening on/.test(String(l.msg))));
    cli.kill('SIGUSR2');
    cli.kill('SIGWINCH');
    await poll(
      'ignored lines',
      () => lines(s.error).filter((l) => /ignored/.test(String(l.msg))).length === 2,
    );
    expect((await get(s.port, '/a')).text).toBe('a');
    cli.kill('SIGTERM');
    expect(await cli.exited).toBe(0);
  });
});

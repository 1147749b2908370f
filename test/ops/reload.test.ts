/**
 * SIGHUP reload, end to end with the built CLI: ten reloads while a client runs GET and POST on a
 * kept-alive connection and on fresh ones, with a long streamed download started before the first
 * reload. Every reload changes a fixed reply, a handler module and a job module; the first
 * request after "reloaded" must see all three. Zero failed requests; the download completes.
 * Then: a listener added and removed by reload; an invalid config on HUP changes nothing and
 * every problem is logged with its path; `switchyard reload` through the pid file.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server as HttpServer } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { Client, request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, freePort, runCli, runCliToEnd } from '../helpers/cli.js';
import { lineClient } from '../helpers/raw-client.js';

const API = pathToFileURL(join(packageRoot, 'dist', 'src', 'api.js')).href;

let dir: string;
let conf: string;
let upstream: HttpServer;
let upPort: number;
let port: number;
let cli: Cli;

function writeModules(n: number): void {
  writeFileSync(
    join(dir, 'routes', 'ver.js'),
    `import { text } from '${API}';\nexport default () => text('v${n}');\n`,
  );
  writeFileSync(join(dir, 'routes', 'jobs', 'gen.js'), `export default () => 'j${n}';\n`);
}

function writeConfig(n: number, extra = ''): void {
  writeFileSync(
    conf,
    `listen:
  - { host: 127.0.0.1, port: ${port} }
${extra}
routes_dir: routes
pid: sy.pid
log: { level: info, access: off, error: stderr }
upstreams:
  up: { servers: [{ url: "http://127.0.0.1:${upPort}" }], keepalive: 2s }
routes:
  - { path: /r, respond: { body: "gen ${n}" } }
  - { path: /ver, handler: ver }
  - { path: /job, handler: runjob }
  - { path: /download, handler: download }
  - { path: "/api/*", proxy: up, strip_prefix: /api }
`,
  );
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sy-reload-'));
  mkdirSync(join(dir, 'routes', 'jobs'), { recursive: true });
  conf = join(dir, 'switchyard.yaml');
  writeFileSync(
    join(dir, 'routes', 'runjob.js'),
    `import { text } from '${API}';\nexport default async (ctx) => text(await ctx.run('gen', null));\n`,
  );
  // Streams 16 KiB pieces every 20 ms until the test creates the "done" file.
  writeFileSync(
    join(dir, 'routes', 'download.js'),
    `import { existsSync } from 'node:fs';
import { stream, sleep } from '${API}';
export default (ctx) => stream((async function* () {
  const piece = Buffer.alloc(16 * 1024, 'x');
  while (!existsSync(${JSON.stringify(join(dir, 'done'))})) { yield piece; await sleep(20, ctx.signal); }
  yield Buffer.from('END');
})());
`,
  );
  writeModules(0);
  upstream = createServer((req, res) => {
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
    });
    req.on('end', () => res.end(`got ${n}`));
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  upPort = (upstream.address() as { port: number }).port;
  port = await freePort();
  writeConfig(0);
  cli = runCli(['start', '-c', conf]);
  await cli.waitFor(/listening on/);
});

afterAll(async () => {
  cli?.kill('SIGTERM');
  await cli?.exited;
  await new Promise((r) => upstream?.close(r));
});

async function text(
  c: Client | null,
  path: string,
  body?: string,
): Promise<{ status: number; text: string }> {
  const method = body === undefined ? 'GET' : 'POST';
  const r =
    c === null
      ? await request(`http://127.0.0.1:${port}${path}`, { method, body, reset: true })
      : await c.request({ path, method, body });
  return { status: r.statusCode, text: await r.body.text() };
}

/** Wait for the n-th occurrence of a pattern in the output. */
async function nth(re: RegExp, n: number): Promise<void> {
  await cli.waitFor(new RegExp(`(${re.source}[\\s\\S]*){${n}}`), 20_000);
}

describe('reload under load', () => {
  it('ten reloads: zero failed requests, the download completes, the new config from the next request', async () => {
    const keep = new Client(`http://127.0.0.1:${port}`, { pipelining: 1, keepAliveTimeout: 60_000 });
    const failures: string[] = [];
    let done = 0;
    let stop = false;
    // The download, started before the first reload.
    const download = (async () => {
      const r = await request(`http://127.0.0.1:${port}/download`);
      let bytes = 0;
      let tail = '';
      for await (const c of r.body) {
        bytes += (c as Buffer).length;
        tail = (tail + (c as Buffer).toString('latin1')).slice(-3);
      }
      return { status: r.statusCode, bytes, tail };
    })();
    const body = 'b'.repeat(10_000);
    const load = (async () => {
      while (!stop) {
        for (const [c, path, b] of [
          [keep, '/r', undefined],
          [keep, '/api/echo', body],
          [null, '/ver', undefined],
          [null, '/api/echo', body],
        ] as const) {
          try {
            const r = await text(c, path, b);
            if (r.status !== 200 || (b !== undefined && r.text !== `got ${b.length}`)) {
              failures.push(`${path}: ${r.status} ${r.text.slice(0, 80)}`);
            }
          } catch (err) {
            failures.push(`${path}: ${(err as Error).message}`);
          }
          done++;
        }
      }
    })();

    for (let gen = 1; gen <= 10; gen++) {
      writeModules(gen);
      writeConfig(gen);
      cli.kill('SIGHUP');
      await nth(/"msg":"reloaded \(generation \d+\)"/, gen);
      // The very next request, on the kept-alive connection and on a new one, sees generation `gen`.
      expect((await text(keep, '/r')).text).toBe(`gen ${gen}`);
      expect((await text(null, '/ver')).text).toBe(`v${gen}`);
      expect((await text(keep, '/job')).text).toBe(`j${gen}`);
    }
    writeFileSync(join(dir, 'done'), '');
    const d = await download;
    stop = true;
    await load;
    await keep.close();
    expect(failures).toEqual([]);
    expect(done).toBeGreaterThan(40);
    expect(d.status).toBe(200);
    expect(d.tail).toBe('END');
    expect(d.bytes).toBeGreaterThan(16 * 1024);
  });

  it('a reload opens an added listener and closes a removed one', async () => {
    const extra = await freePort();
    writeConfig(11, `  - { host: 127.0.0.1, port: ${extra} }`);
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`listening on 127.0.0.1:${extra}`), 20_000);
    const r = await request(`http://127.0.0.1:${extra}/r`);
    expect(await r.body.text()).toBe('gen 11');
    writeConfig(12);
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`stopped listening on 127.0.0.1:${extra}`), 20_000);
    const refused = await new Promise<string>((resolve) => {
      const s = connect(extra, '127.0.0.1');
      s.on('connect', () => {
        s.destroy();
        resolve('connected');
      });
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    });
    expect(refused).toBe('ECONNREFUSED');
    expect((await text(null, '/r')).text).toBe('gen 12');
  });

  it('a reload adding a listener on a port in use is refused with the listener and the reason, no stack', async () => {
    writeConfig(12, `  - { host: 127.0.0.1, port: ${upPort} }`); // the test upstream holds it
    const before = cli.stderr().length;
    cli.kill('SIGHUP');
    await cli.waitFor(/reload refused: listen/, 20_000);
    const line = cli
      .stderr()
      .slice(before)
      .split('\n')
      .find((l) => l.includes('reload refused: listen'))!;
    expect(line).toContain(`listen[1]: cannot listen on 127.0.0.1:${upPort} (address in use)`);
    expect(line).not.toContain('"stack"');
    writeConfig(12);
  });

  it('one reload adds a job module and the tcp listener that runs it', async () => {
    const tcpPort = await freePort();
    writeFileSync(join(dir, 'routes', 'jobs', 'twice.js'), 'export default (n) => n * 2;\n');
    writeConfig(12, `  - { host: 127.0.0.1, port: ${tcpPort}, kind: tcp, job: twice }`);
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`listening on 127.0.0.1:${tcpPort}`), 20_000);
    const c = await lineClient(tcpPort);
    c.send('21\n');
    expect(await c.lines(1)).toEqual(['Result: 42']);
    c.socket.destroy();
    // Changing its settings in place is refused, and the reason names what was changed.
    writeConfig(12, `  - { host: 127.0.0.1, port: ${tcpPort}, kind: tcp, job: twice, idle: 5s }`);
    const before = cli.stderr().length;
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`reload refused: listen\\[1\\] \\(127\\.0\\.0\\.1:${tcpPort}\\)`), 20_000);
    const refusal = cli
      .stderr()
      .slice(before)
      .split('\n')
      .find((l) => l.includes(`listen[1] (127.0.0.1:${tcpPort})`))!;
    expect(refusal).toContain('the job, idle or max_connections of a tcp listener, takes a restart');
    writeConfig(12);
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`stopped listening on 127.0.0.1:${tcpPort}`), 20_000);
  });

  it('an invalid config on HUP changes nothing; every problem is logged with its path', async () => {
    writeFileSync(
      conf,
      `listen: [{ host: 127.0.0.1, port: ${port} }]
routes_dir: routes
pid: sy.pid
timeout: 5s
routes:
  - { path: /r, respond: { body: "broken" } }
  - { path: /x, proxy: nowhere }
`,
    );
    cli.kill('SIGHUP');
    await cli.waitFor(/reload refused: 2 configuration problems/, 20_000);
    expect(cli.stderr()).toMatch(/"problem":"timeout: unknown key"/);
    expect(cli.stderr()).toMatch(/"problem":"routes\[1\]\.proxy: unknown upstream \\"nowhere\\""/);
    expect((await text(null, '/r')).text).toBe('gen 12');
    expect((await text(null, '/ver')).text).toBe('v10');
    expect(cli.child.exitCode).toBe(null);
  });

  it('switchyard reload signals the instance named by the pid file; a bad config is refused before sending', async () => {
    expect(existsSync(join(dir, 'sy.pid'))).toBe(true);
    // The broken config from the previous test: nothing is sent.
    const bad = await runCliToEnd(['reload', '-c', conf]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/nothing sent/);
    writeConfig(13);
    const before = (cli.stderr().match(/"msg":"reloaded/g) ?? []).length;
    const ok = await runCliToEnd(['reload', '-c', conf]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(new RegExp(`sent SIGHUP to ${cli.child.pid}`));
    await nth(/"msg":"reloaded \(generation \d+\)"/, before + 1);
    expect((await text(null, '/r')).text).toBe('gen 13');
    // another file naming the same pid file: the instance would re-read its own, so nothing is sent
    const other = join(dir, 'other.yaml');
    writeFileSync(other, readFileSync(conf, 'utf8').replace('gen 13', 'other'));
    const wrong = await runCliToEnd(['reload', '-c', other]);
    expect(wrong.code).toBe(1);
    expect(wrong.stderr).toContain(
      `process ${cli.child.pid} was started with ${conf} and reloads that file, not ${other}: nothing sent`,
    );
    expect((await text(null, '/r')).text).toBe('gen 13');
    // a pid file that holds no pid is said to be that, not "no pid file"
    const junk = join(dir, 'junk.yaml');
    writeFileSync(
      junk,
      'listen: [{ host: 127.0.0.1, port: 0 }]\npid: junk.pid\nroutes: [{ path: /a, respond: { body: a } }]\n',
    );
    writeFileSync(join(dir, 'junk.pid'), 'garbage\n');
    const invalid = await runCliToEnd(['reopen', '-c', junk]);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toContain(`${join(dir, 'junk.pid')}: invalid pid "garbage" (not a process id)`);
    // a stale pid file whose pid now belongs to another program: not signalled, not "running"
    const stranger = spawn(process.execPath, [
      '-e',
      'process.on("SIGHUP", () => process.exit(7)); setInterval(() => {}, 1000)',
    ]);
    try {
      writeFileSync(join(dir, 'junk.pid'), `${stranger.pid}\n`);
      for (const cmd of ['reload', 'stop']) {
        const r = await runCliToEnd([cmd, '-c', junk]);
        expect(r.code).toBe(1);
        expect(r.stderr).toContain(
          `${join(dir, 'junk.pid')}: process ${stranger.pid} is not switchyard (stale pid file, its pid since reused): nothing sent`,
        );
      }
      expect(stranger.exitCode).toBe(null);
      const check = await runCliToEnd(['check', '-c', junk]);
      expect(check.code).toBe(0);
      const claimed = runCli(['start', '-c', junk]);
      await claimed.waitFor(/"msg":"listening on/, 15_000);
      expect(readFileSync(join(dir, 'junk.pid'), 'utf8')).toBe(`${claimed.child.pid}\n`);
      expect((await runCliToEnd(['stop', '-c', junk])).code).toBe(0);
      expect(await claimed.exited).toBe(0);
    } finally {
      stranger.kill('SIGKILL');
    }
    const stop = await runCliToEnd(['stop', '-c', conf]);
    expect(stop.code).toBe(0);
    expect(await cli.exited).toBe(0);
    expect(existsSync(join(dir, 'sy.pid'))).toBe(false);
  });
});

/**
 * Switchyard behind nginx and HAProxy with their defaults, on a `node` listener (the uWS build
 * cannot answer HTTP/1.0: SECURITY.md). nginx's plain `proxy_pass` speaks HTTP/1.0 upstream;
 * HAProxy's `option httpchk` probes with `OPTIONS / HTTP/1.0` and no Host. Real nginx and HAProxy
 * (Debian packages; .ci/run installs them), started by the test.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cli, freePort, startCli } from '../helpers/cli.js';

let cli: Cli & { ports: number[] };
let sy: number;
const children: ChildProcess[] = [];

beforeAll(async () => {
  cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0, engine: node }]
log: { level: info, access: stdout }
routes:
  - { path: /, respond: { body: "up\\n" } }
  - { path: /sync, respond: { body: "sync\\n" } }
  - { path: /hello, handler: hello }
`);
  sy = cli.ports[0]!;
});

afterAll(async () => {
  for (const c of children) c.kill('SIGKILL');
  cli?.kill();
  await cli?.exited;
});

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Poll until `path` through `port` answers `status` (a front proxy starting, a health check rising). */
async function until(port: number, path: string, status: number, what: string): Promise<void> {
  let last = '';
  for (let i = 0; i < 300; i++) {
    try {
      const r = await get(port, path);
      if (r.status === status) return;
      last = `${r.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${what}: no ${status} from ${path} (last: ${last})`);
}

function run(cmd: string, args: string[]): ChildProcess {
  const c = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  c.stderr!.on('data', (d) => (err += d));
  c.on('exit', (code) => {
    if (code !== 0 && code !== null) process.stderr.write(`${cmd} exited ${code}: ${err}\n`);
  });
  children.push(c);
  return c;
}

describe('behind front proxies with their defaults (node engine)', () => {
  it('nginx: plain proxy_pass (HTTP/1.0 upstream) gets the answers', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-nginx-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'nginx.conf'),
      `daemon off; master_process off; pid ${dir}/nginx.pid; error_log stderr warn;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path ${dir}/b; proxy_temp_path ${dir}/p; fastcgi_temp_path ${dir}/f;
  uwsgi_temp_path ${dir}/u; scgi_temp_path ${dir}/s;
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://127.0.0.1:${sy}; }
  }
}
`,
    );
    run('nginx', ['-p', dir, '-c', join(dir, 'nginx.conf'), '-e', 'stderr']);
    await until(port, '/sync', 200, 'nginx');
    expect(await get(port, '/sync')).toEqual({ status: 200, body: 'sync\n' });
    expect(await get(port, '/hello')).toEqual({ status: 200, body: 'Hello world!' });
    expect((await get(port, '/missing')).status).toBe(404);
    // what Switchyard saw: HTTP/1.0 requests from nginx, answered
    await cli.waitFor(/"path":"\/hello".*"status":200/);
  });

  it('HAProxy: option httpchk (OPTIONS / HTTP/1.0, no Host) marks the server up; traffic flows', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-haproxy-'));
    const port = await freePort();
    writeFileSync(
      join(dir, 'haproxy.cfg'),
      `global
  log stderr format raw local0 warning
defaults
  mode http
  timeout connect 2s
  timeout client 10s
  timeout server 10s
frontend fe
  bind 127.0.0.1:${port}
  default_backend be
backend be
  option httpchk
  server sy 127.0.0.1:${sy} check inter 100ms rise 1 fall 1
`,
    );
    run('haproxy', ['-db', '-f', join(dir, 'haproxy.cfg')]);
    // 503 while the check has not passed; 200 once it has
    await until(port, '/sync', 200, 'haproxy');
    expect(await get(port, '/sync')).toEqual({ status: 200, body: 'sync\n' });
    await cli.waitFor(/"method":"OPTIONS",[^}]*"path":"\/".*"status":200/);
  });
});

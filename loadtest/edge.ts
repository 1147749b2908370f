/**
 * `npm run bench:edge [-- --quick]`: Switchyard at the edge against nginx, side by side in one
 * run, with the same certificate and the same files:
 *
 * - https-keepalive: a small fixed reply over TLS on kept-alive connections (req/s);
 * - https-handshake: the same with `Connection: close`, so every request is a new TLS handshake
 *   (req/s = full handshakes/s; wrk does not resume sessions);
 * - static-1k / static-64k / static-10m: files over plain HTTP (nginx with sendfile);
 * - gzip-64k: a 64 KiB HTML file compressed on the fly for `Accept-Encoding: gzip`, level 6 on
 *   both (Switchyard `compress:`, nginx `gzip on`).
 *
 * Rounds alternate A B A B (wrk -t1, fixed duration); CPU per request is each server's own
 * utime + stime from /proc (nginx: master and worker) over the requests it answered. Results go
 * to stdout and loadtest/results/edge.json. Needs wrk, nginx-light and openssl (installed with
 * apt-get when missing and running as root). `--only=static-1k,gzip-64k` runs some scenarios.
 */

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { selfSigned } from './lib/certs.js';
import { killAll } from './lib/cleanup.js';
import { parseCli, UsageError, wrapList } from './lib/cli.js';
import { freePort, HOST } from './lib/net.js';
import { run, type Spawned, sleep, spawnTracked, stop } from './lib/proc.js';
import { ensureTool } from './lib/tools.js';

const log = (line: string) => process.stdout.write(`${line}\n`);
interface Scenario {
  id: string;
  tls: boolean;
  path: string;
  connections: number;
  headers: Record<string, string>;
}

const SCENARIOS: Scenario[] = [
  { id: 'https-keepalive', tls: true, path: '/hello', connections: 32, headers: {} },
  { id: 'https-handshake', tls: true, path: '/hello', connections: 16, headers: { Connection: 'close' } },
  { id: 'static-1k', tls: false, path: '/files/1k.bin', connections: 32, headers: {} },
  { id: 'static-64k', tls: false, path: '/files/64k.bin', connections: 32, headers: {} },
  { id: 'static-10m', tls: false, path: '/files/10m.bin', connections: 4, headers: {} },
  {
    id: 'gzip-64k',
    tls: false,
    path: '/gz/page.html',
    connections: 16,
    headers: { 'Accept-Encoding': 'gzip' },
  },
];

const IDS = SCENARIOS.map((sc) => sc.id);
const USAGE = `usage: npm run bench:edge -- [options]

  --only=a,b            some of the scenarios:
${wrapList(IDS, 24)}
  --quick               1 round of 2 s per server and scenario: to check the harness
`;
const opt = parseCli(
  'edge',
  USAGE,
  { quick: { type: 'boolean', default: false }, only: { type: 'string' } },
  (v) => {
    for (const id of v.only?.split(',') ?? [])
      if (!IDS.includes(id)) throw new UsageError(`--only: "${id}" is not a scenario (${IDS.join(', ')})`);
  },
);
const quick = opt.quick;
const SECONDS = quick ? 2 : 5;
const ROUNDS = quick ? 1 : 2;
const only = opt.only?.split(',');

interface Server {
  name: 'switchyard' | 'nginx';
  proc: Spawned;
  plain: number;
  tls: number;
}

/** utime + stime (clock ticks) of `pid` and its children (nginx's worker), from /proc. */
function cpuTicks(pid: number): number {
  let total = 0;
  const pids = [pid];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const st = readFileSync(`/proc/${e}/stat`, 'utf8');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(rest[1]) === pid) pids.push(Number(e));
    } catch {}
  }
  for (const p of pids) {
    try {
      const st = readFileSync(`/proc/${p}/stat`, 'utf8');
      const rest = st.slice(st.lastIndexOf(')') + 2).split(' ');
      total += Number(rest[11]) + Number(rest[12]);
    } catch {}
  }
  return total;
}
const TICK_US = 1e6 / Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

function wrkScript(dir: string, s: Scenario): string {
  const file = path.join(dir, `${s.id}.lua`);
  const lines = Object.entries(s.headers).map(([k, v]) => `wrk.headers["${k}"] = "${v}"`);
  lines.push(
    'done = function(summary, latency, requests)',
    '  local e = summary.errors',
    '  io.write(string.format(\'WRK_JSON {"requests":%.0f,"duration_us":%.0f,"bytes":%.0f,"errors":%.0f,"status":%.0f,"p99":%.0f}\\n\',',
    '    summary.requests, summary.duration, summary.bytes, e.connect + e.read + e.write + e.timeout, e.status, latency:percentile(99)))',
    'end',
  );
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

interface Measure {
  rps: number;
  mbps: number;
  cpuUsPerReq: number;
  p99ms: number;
  errors: number;
}

async function measure(wrk: string, dir: string, srv: Server, s: Scenario): Promise<Measure> {
  const url = `${s.tls ? 'https' : 'http'}://${HOST}:${s.tls ? srv.tls : srv.plain}${s.path}`;
  const before = cpuTicks(srv.proc.child.pid!);
  const res = await run(
    wrk,
    ['-t1', `-c${s.connections}`, `-d${SECONDS}s`, '--timeout', '10s', '-s', wrkScript(dir, s), url],
    (SECONDS + 30) * 1000,
  );
  const after = cpuTicks(srv.proc.child.pid!);
  const line = res.stdout.split('\n').find((l) => l.startsWith('WRK_JSON '));
  if (!line) throw new Error(`wrk: ${(res.stderr || res.stdout).trim()}`);
  const j = JSON.parse(line.slice(9)) as Record<string, number>;
  const sec = j.duration_us! / 1e6;
  return {
    rps: j.requests! / sec,
    mbps: j.bytes! / sec / 1048576,
    cpuUsPerReq: ((after - before) * TICK_US) / Math.max(1, j.requests!),
    p99ms: j.p99! / 1000,
    errors: j.errors! + j.status!,
  };
}

function nginxConf(dir: string, site: string, plain: number, tls: number, cert: string, key: string): string {
  for (const sub of ['body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'])
    mkdirSync(path.join(dir, sub), { recursive: true });
  const user = process.getuid?.() === 0 ? 'user root root;\n' : '';
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(
    file,
    `${user}worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  server_tokens off;
  keepalive_requests 1000000;
  sendfile on;
  tcp_nopush on;
  include /etc/nginx/mime.types;
  default_type application/octet-stream;
  client_body_temp_path ${dir}/body; proxy_temp_path ${dir}/proxy; fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi; scgi_temp_path ${dir}/scgi;
  server {
    listen ${HOST}:${plain};
    listen ${HOST}:${tls} ssl;
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_session_cache off;
    ssl_session_tickets off;
    location = /hello { default_type text/plain; return 200 "hello\\n"; }
    location /files/ { alias ${site}/; }
    location /gz/ { alias ${site}/; gzip on; gzip_comp_level 6; gzip_min_length 1024; gzip_types text/plain text/css application/json; }
  }
}
`,
  );
  return file;
}

async function waitPort(port: number, proc: Spawned): Promise<void> {
  for (let i = 0; i < 150; i++) {
    if (proc.ended() !== null) throw new Error(`${proc.name} exited: ${proc.output()}`);
    const r = await run(
      'curl',
      ['-sk', '-o', '/dev/null', '-w', '%{http_code}', `http://${HOST}:${port}/files/1k.bin`],
      3000,
    );
    if (r.stdout === '200') return;
    await sleep(100);
  }
  throw new Error(`${proc.name} not ready: ${proc.output()}`);
}

async function main(): Promise<void> {
  const wrk = (await ensureTool('wrk', 'wrk', true, log)).path;
  const nginx = (await ensureTool('nginx', 'nginx-light', true, log)).path;
  if (!wrk || !nginx)
    throw new Error('bench:edge needs wrk and nginx-light (apt-get install -y wrk nginx-light)');
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'sy-edge-'));
  process.on('exit', () => rmSync(tmp, { recursive: true, force: true }));
  const site = path.join(tmp, 'site');
  mkdirSync(site);
  writeFileSync(path.join(site, '1k.bin'), randomBytes(1024));
  writeFileSync(path.join(site, '64k.bin'), randomBytes(64 * 1024));
  writeFileSync(path.join(site, '10m.bin'), randomBytes(10 * 1024 * 1024));
  // HTML with some repetition, as real pages have: compresses ≈ 4–5× at level 6
  const words = Array.from({ length: 400 }, () => randomBytes(4).toString('hex'));
  let html = '<!doctype html><html><body>\n';
  while (html.length < 64 * 1024)
    html += `<p class="item">${words[(html.length * 7) % 400]} ${words[html.length % 400]}</p>\n`;
  writeFileSync(path.join(site, 'page.html'), html.slice(0, 64 * 1024));
  const { cert, key } = selfSigned(tmp, 'edge', '/CN=localhost');

  const [syPlain, syTls, ngPlain, ngTls] = [
    await freePort(),
    await freePort(),
    await freePort(),
    await freePort(),
  ];
  const syConf = path.join(tmp, 'switchyard.yaml');
  writeFileSync(
    syConf,
    `listen:
  - { host: ${HOST}, port: ${syPlain} }
  - { host: ${HOST}, port: ${syTls}, tls: { cert: ${cert}, key: ${key} } }
log: { access: off }
routes:
  - { path: /hello, respond: { body: "hello\\n" } }
  - { path: "/files/*", static: { root: ${site} } }
  - { path: "/gz/*", static: { root: ${site} }, compress: { level: { gzip: 6 } } }
`,
  );
  const servers: Server[] = [
    {
      name: 'switchyard',
      proc: spawnTracked('switchyard', process.execPath, [
        path.join(root, 'dist', 'src', 'cli.js'),
        'start',
        '-c',
        syConf,
      ]),
      plain: syPlain,
      tls: syTls,
    },
    {
      name: 'nginx',
      proc: spawnTracked('nginx', nginx, [
        '-c',
        nginxConf(tmp, site, ngPlain, ngTls, cert, key),
        '-g',
        'daemon off;',
      ]),
      plain: ngPlain,
      tls: ngTls,
    },
  ];
  for (const s of servers) await waitPort(s.plain, s.proc);
  log(
    `bench:edge: ${os.cpus().length} cores, node ${process.version}, ${ROUNDS} round(s) × ${SECONDS} s per server and scenario`,
  );

  const results: Record<string, Record<string, Measure[]>> = {};
  const scenarios = SCENARIOS.filter((sc) => only === undefined || only.includes(sc.id));
  for (const sc of scenarios) {
    results[sc.id] = { switchyard: [], nginx: [] };
    for (const s of servers) await measure(wrk, tmp, s, { ...sc }).catch(() => undefined); // warm-up
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        results[sc.id]![s.name]!.push(await measure(wrk, tmp, s, sc));
      }
    }
  }
  for (const s of servers) await stop(s.proc.child);

  const avg = (ms: Measure[], k: keyof Measure) => ms.reduce((a, m) => a + m[k], 0) / ms.length;
  const rows = scenarios.map((sc) => {
    const sy = results[sc.id]!.switchyard!;
    const ng = results[sc.id]!.nginx!;
    return {
      scenario: sc.id,
      switchyard_rps: Math.round(avg(sy, 'rps')),
      nginx_rps: Math.round(avg(ng, 'rps')),
      rps_ratio: +(avg(sy, 'rps') / avg(ng, 'rps')).toFixed(2),
      switchyard_cpu_us: +avg(sy, 'cpuUsPerReq').toFixed(1),
      nginx_cpu_us: +avg(ng, 'cpuUsPerReq').toFixed(1),
      cpu_ratio: +(avg(sy, 'cpuUsPerReq') / avg(ng, 'cpuUsPerReq')).toFixed(2),
      switchyard_mib_s: +avg(sy, 'mbps').toFixed(1),
      nginx_mib_s: +avg(ng, 'mbps').toFixed(1),
      switchyard_p99_ms: +avg(sy, 'p99ms').toFixed(2),
      nginx_p99_ms: +avg(ng, 'p99ms').toFixed(2),
      switchyard_errors: sy.reduce((a, m) => a + m.errors, 0),
      nginx_errors: ng.reduce((a, m) => a + m.errors, 0),
    };
  });
  log('');
  log(
    '| scenario | Switchyard req/s | nginx req/s | ratio | Switchyard CPU µs/req | nginx CPU µs/req | CPU ratio | MiB/s (Sy / nginx) | errors |',
  );
  log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of rows)
    log(
      `| ${r.scenario} | ${r.switchyard_rps} | ${r.nginx_rps} | ${r.rps_ratio} | ${r.switchyard_cpu_us} | ${r.nginx_cpu_us} | ${r.cpu_ratio} | ${r.switchyard_mib_s} / ${r.nginx_mib_s} | ${r.switchyard_errors} / ${r.nginx_errors} |`,
    );
  const out = path.join(root, 'loadtest', 'results', 'edge.json');
  writeFileSync(
    out,
    `${JSON.stringify({ date: new Date().toISOString(), quick, seconds: SECONDS, rounds: ROUNDS, cores: os.cpus().length, node: process.version, rows }, null, 2)}\n`,
  );
  log(`\nwritten: ${path.relative(root, out)}`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench:edge: ${(err as Error).stack ?? String(err)}\n`);
    killAll();
    process.exit(1);
  },
);

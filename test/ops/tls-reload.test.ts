/**
 * Certificate renewal on reload, end to end with the built CLI: the certificate and key files are
 * overwritten in place (as certbot or an ACME client does), SIGHUP, and the next new TLS
 * connection gets the renewed certificate, while a connection opened before the reload keeps
 * working. A broken pair on HUP is refused and the old certificate stays. On both engines, and
 * on uWS with acceptor threads (each thread swaps its own app).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type StartedCli, startCli } from '../helpers/cli.js';
import { uwsAvailable } from '../helpers/engines.js';

let dir: string;
/** name → { cert, key } files, each CN=name with SAN 127.0.0.1 */
const pairs = new Map<string, { cert: string; key: string }>();

function selfSigned(name: string): void {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key].concat(
      ['-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1'],
    ),
    { stdio: 'ignore' },
  );
  pairs.set(name, { cert, key });
}

/** Put `name`'s pair where the config points (the cert and key of `live`). */
function install(live: string, cert: string, key: string): void {
  copyFileSync(pairs.get(cert)!.cert, join(live, 'cert.pem'));
  copyFileSync(pairs.get(key)!.key, join(live, 'key.pem'));
}

/** A TLS connection; resolves once the handshake is done. */
function open(port: number): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => resolve(s));
    s.once('error', reject);
  });
}

async function servedCN(port: number): Promise<string> {
  const s = await open(port);
  const cn = s.getPeerCertificate().subject.CN as string;
  s.destroy();
  return cn;
}

/** One HTTP/1.1 request on an open TLS socket; resolves with the status line. */
function get(s: TLSSocket, path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const onData = (c: Buffer) => {
      buf += c.toString('latin1');
      if (buf.includes('\r\n\r\n') && buf.endsWith('ok\n')) {
        s.off('data', onData);
        resolve(buf.split('\r\n')[0]!);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
    s.write(`GET ${path} HTTP/1.1\r\nhost: localhost\r\n\r\n`);
  });
}

/** The inodes of the sockets listening on `port` (from the kernel's table: a swap changes them). */
function listeningInodes(pid: number, port: number): string[] {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  const out: string[] = [];
  for (const f of ['tcp', 'tcp6']) {
    let text = '';
    try {
      text = readFileSync(`/proc/${pid}/net/${f}`, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const c = line.trim().split(/\s+/);
      if (c[1]?.endsWith(`:${hex}`) && c[3] === '0A') out.push(c[9]!);
    }
  }
  return out.sort();
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'sy-tls-reload-'));
  for (const n of ['first', 'renewed', 'third']) selfSigned(n);
});

const variants: { name: string; engine: 'uws' | 'node'; threads: number }[] = [
  ...(uwsAvailable()
    ? [
        { name: 'uws', engine: 'uws' as const, threads: 1 },
        { name: 'uws, threads: 2', engine: 'uws' as const, threads: 2 },
      ]
    : []),
  { name: 'node', engine: 'node', threads: 1 },
];

describe.each(variants)('TLS certificates are read again on reload ($name)', ({ engine, threads }) => {
  let cli: StartedCli;
  let live: string;

  beforeAll(async () => {
    live = mkdtempSync(join(dir, 'live-'));
    install(live, 'first', 'first');
    cli = await startCli(`threads: ${threads}
listen:
  - { host: 127.0.0.1, port: 0, engine: ${engine}, tls: { cert: ${live}/cert.pem, key: ${live}/key.pem } }
log: { level: info, access: off, error: stderr }
routes:
  - { path: /, respond: { body: "ok\\n" } }
`);
  });
  afterAll(() => cli?.stop());

  const reloads = (): number => (cli.stderr().match(/"msg":"reloaded \(generation \d+\)"/g) ?? []).length;

  it('a renewed certificate is served to new connections after HUP; an open connection keeps working', async () => {
    expect(await servedCN(cli.port)).toBe('first');
    const kept = await open(cli.port);
    expect(await get(kept, '/')).toBe('HTTP/1.1 200 OK');

    install(live, 'renewed', 'renewed');
    const before = reloads();
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`("msg":"reloaded \\(generation \\d+\\)"[\\s\\S]*){${before + 1}}`), 20_000);
    // Every new connection (with threads: whichever thread the kernel picks) gets the new one.
    for (let i = 0; i < 6; i++) expect(await servedCN(cli.port)).toBe('renewed');
    expect(await get(kept, '/')).toBe('HTTP/1.1 200 OK');
    kept.destroy();
  });

  it('a reload that changes no certificate keeps the listening socket; TLS clients meanwhile all connect', async () => {
    const before = listeningInodes(cli.pid, cli.port);
    expect(before.length).toBeGreaterThan(0);
    let stop = false;
    let ok = 0;
    const failures: string[] = [];
    const clients = Array.from({ length: 4 }, async () => {
      while (!stop) {
        try {
          const s = await open(cli.port);
          expect(await get(s, '/')).toBe('HTTP/1.1 200 OK');
          s.destroy();
          ok++;
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    });
    for (let i = 0; i < 5; i++) {
      const n = reloads();
      cli.kill('SIGHUP');
      await cli.waitFor(new RegExp(`("msg":"reloaded \\(generation \\d+\\)"[\\s\\S]*){${n + 1}}`), 20_000);
    }
    stop = true;
    await Promise.all(clients);
    expect(failures).toEqual([]);
    expect(ok).toBeGreaterThan(0);
    expect(listeningInodes(cli.pid, cli.port)).toEqual(before);
  });

  it('a certificate and key that do not match are refused on HUP; the one in force stays', async () => {
    install(live, 'third', 'renewed');
    cli.kill('SIGHUP');
    await cli.waitFor(/reload refused/, 20_000);
    for (let i = 0; i < 3; i++) expect(await servedCN(cli.port)).toBe('renewed');
    install(live, 'third', 'third');
    const before = reloads();
    cli.kill('SIGHUP');
    await cli.waitFor(new RegExp(`("msg":"reloaded \\(generation \\d+\\)"[\\s\\S]*){${before + 1}}`), 20_000);
    for (let i = 0; i < 6; i++) expect(await servedCN(cli.port)).toBe('third');
  });
});

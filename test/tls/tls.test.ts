/**
 * TLS listeners end to end, with the clients an operator would use: curl and `openssl s_client`
 * (Debian packages, installed by .ci/run) against a real SSLApp on 127.0.0.1.
 */
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Certs, makeCerts } from '../helpers/certs.js';
import { runCliToEnd, startCli, tempFile } from '../helpers/cli.js';
import { uwsAvailable } from '../helpers/engines.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { httpUpstream, type Upstream } from '../helpers/upstreams.js';

const run = promisify(execFile);

/** `openssl s_client` with stdin closed; its whole output. */
async function sClient(port: number, args: string[]): Promise<string> {
  try {
    const { stdout, stderr } = await run(
      'sh',
      ['-c', `openssl s_client -connect 127.0.0.1:${port} ${args.join(' ')} </dev/null 2>&1`],
      { timeout: 10_000 },
    );
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return `${e.stdout ?? ''}${e.stderr ?? ''}`;
  }
}

let certs: Certs;
let srv: TestServer;
let httpsPort: number;
let redirectPort: number;

beforeAll(async () => {
  certs = makeCerts();
  srv = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, redirect_https: true }
  - host: 127.0.0.1
    port: 0
    tls:
      cert: ${certs.local.cert}
      key: ${certs.local.key}
      sni:
        "*.example.com": { cert: ${certs.wild.cert}, key: ${certs.wild.key} }
        api.test: { cert: ${certs.api.cert}, key: ${certs.api.key} }
routes:
  - { path: /hello, respond: { body: "hello over tls" } }
  - { path: /echo, methods: [POST], respond: { body: "posted" } }
`);
  redirectPort = srv.server.listening[0]!.port;
  httpsPort = srv.server.listening[1]!.port;
});
afterAll(() => srv?.close());

describe('TLS listener', () => {
  it('answers two requests over one TLS connection (keep-alive) with curl', async () => {
    const url = `https://127.0.0.1:${httpsPort}/hello`;
    const { stdout } = await run('curl', [
      '-sS',
      '--cacert',
      certs.local.cert,
      '-w',
      '|%{num_connects}\\n',
      url,
      url,
    ]);
    // curl prints num_connects per transfer: 1 for the first, 0 for the reused connection.
    expect(stdout).toBe('hello over tls|1\nhello over tls|0\n');
  });

  it('SNI picks the certificate: exact name, wildcard, none → the main one', async () => {
    const subject = (out: string) => /subject=(.*)/.exec(out)?.[1]?.trim();
    expect(subject(await sClient(httpsPort, ['-servername', 'api.test']))).toMatch(/CN ?= ?api\.test/);
    expect(subject(await sClient(httpsPort, ['-servername', 'shop.example.com']))).toMatch(
      /CN ?= ?wild\.example\.com/,
    );
    expect(subject(await sClient(httpsPort, ['-servername', 'other.org']))).toMatch(/CN ?= ?localhost/);
    expect(subject(await sClient(httpsPort, ['-noservername']))).toMatch(/CN ?= ?localhost/);
    // a wildcard covers one label only
    expect(subject(await sClient(httpsPort, ['-servername', 'a.b.example.com']))).toMatch(/CN ?= ?localhost/);
  });

  it('curl verifies the SNI certificate for its host name', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '--cacert',
      certs.wild.cert,
      '--resolve',
      `shop.example.com:${httpsPort}:127.0.0.1`,
      `https://shop.example.com:${httpsPort}/hello`,
    ]);
    expect(stdout).toBe('hello over tls');
  });

  it('TLS 1.2 and 1.3 are accepted; 1.1 and 1.0 are refused', async () => {
    expect(await sClient(httpsPort, ['-tls1_2'])).toMatch(/Protocol\s*:\s*TLSv1\.2/);
    expect(await sClient(httpsPort, ['-tls1_3'])).toMatch(/TLSv1\.3/);
    for (const v of ['-tls1_1', '-tls1']) {
      const out = await sClient(httpsPort, [v, '-cipher', 'DEFAULT@SECLEVEL=0']);
      expect(out).toMatch(/Cipher is \(NONE\)|alert|no protocols available/i);
      expect(out).not.toMatch(/Cipher is (?!\(NONE\))/);
    }
  });

  it('a bad handshake (plain HTTP to the TLS port) is closed at once, not after the idle timer', async () => {
    // Baseline in the same test: a good TLS handshake + request on this server.
    const t0 = performance.now();
    await new Promise<void>((resolve, reject) => {
      const s = tlsConnect(
        { port: httpsPort, host: '127.0.0.1', rejectUnauthorized: false, servername: 'localhost' },
        () => {
          s.end('GET /hello HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
        },
      );
      s.on('data', () => {});
      s.on('close', () => resolve());
      s.on('error', reject);
    });
    const good = performance.now() - t0;
    const t1 = performance.now();
    const bad = await new Promise<number>((resolve) => {
      const s = connect(httpsPort, '127.0.0.1', () => s.write('GET /hello HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('data', () => {});
      s.on('error', () => {});
      s.on('close', () => resolve(performance.now() - t1));
    });
    // uWS's only other way to end a connection is its ≈ 10 s idle timer; a bad handshake must not
    // wait for it. Bound: under 1 s, or 20 × a full good exchange on a very busy machine.
    expect(bad).toBeLessThan(Math.max(1000, 20 * good));
  });
});

describe('redirect_https', () => {
  it('a plain listener redirects to the https listener; curl -L follows it', async () => {
    const { stdout } = await run('curl', [
      '-sS',
      '-L',
      '--cacert',
      certs.local.cert,
      '-w',
      '|%{num_redirects}|%{url_effective}',
      `http://localhost:${redirectPort}/hello?x=1`,
    ]);
    expect(stdout).toBe(`hello over tls|1|https://localhost:${httpsPort}/hello?x=1`);
  });

  it('GET → 301, POST → 308 (method kept); a bad Host → 400', async () => {
    const head = async (args: string[]) =>
      (await run('curl', ['-sS', '-o', '/dev/null', '-D', '-', ...args])).stdout;
    const get = await head([`http://127.0.0.1:${redirectPort}/a/b`]);
    expect(get).toMatch(/^HTTP\/1\.1 301/);
    expect(get).toMatch(new RegExp(`location: https://127\\.0\\.0\\.1:${httpsPort}/a/b\\r`, 'i'));
    const post = await head(['-X', 'POST', '-d', 'x=1', `http://127.0.0.1:${redirectPort}/echo`]);
    expect(post).toMatch(/^HTTP\/1\.1 308/);
    const bad = await head(['-H', 'Host: evil.com/x', `http://127.0.0.1:${redirectPort}/`]);
    expect(bad).toMatch(/^HTTP\/1\.1 400/);
    const line = srv.access.find((l) => l.track === 'redirect_https' && l.status === 308);
    expect(line).toMatchObject({ method: 'POST', status: 308 });
  });
});

describe('switchyard check (built CLI) proves the TLS files', () => {
  const check = async (tls: string, extra = '') => {
    const file = tempFile(
      'switchyard.yaml',
      `listen:\n  - port: 0\n    tls: ${tls}\nroutes:\n  - { path: /h, respond: { body: x } }\n${extra}`,
    );
    return runCliToEnd(['check', '-c', file]);
  };

  it('accepts matching files, an encrypted key with its passphrase, and SNI entries', async () => {
    const r = await check(
      `{ cert: ${certs.enc.cert}, key: ${certs.enc.key}, passphrase: secret, sni: { "*.example.com": { cert: ${certs.wild.cert}, key: ${certs.wild.key} } } }`,
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('an SNI name in capitals is taken in lower case; a malformed one is named with the rule', async () => {
    const ok = await check(
      `{ cert: ${certs.local.cert}, key: ${certs.local.key}, sni: { Api.Test: { cert: ${certs.api.cert}, key: ${certs.api.key} } } }`,
    );
    expect([ok.code, ok.stderr]).toEqual([0, '']);
    const bad = await check(
      `{ cert: ${certs.local.cert}, key: ${certs.local.key}, sni: { "api_test!": { cert: ${certs.api.cert}, key: ${certs.api.key} } } }`,
    );
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(
      'listen[0].tls.sni.api_test!: expected a host name such as example.com or *.example.com',
    );
  });

  it('a missing file is named with its config path', async () => {
    const r = await check(`{ cert: ${certs.dir}/nope.crt, key: ${certs.local.key} }`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`listen[0].tls.cert: cannot read ${certs.dir}/nope.crt: ENOENT`);
  });

  it('a key that does not match the certificate (main and SNI)', async () => {
    const r = await check(
      `{ cert: ${certs.local.cert}, key: ${certs.stray}, sni: { api.test: { cert: ${certs.api.cert}, key: ${certs.wild.key} } } }`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `listen[0].tls.key: ${certs.stray} does not match the certificate ${certs.local.cert}`,
    );
    expect(r.stderr).toContain(`listen[0].tls.sni.api.test.key: ${certs.wild.key} does not match`);
  });

  it('an encrypted key without, or with a wrong, passphrase; a file that is not PEM', async () => {
    const none = await check(`{ cert: ${certs.enc.cert}, key: ${certs.enc.key} }`);
    expect(none.stderr).toContain('listen[0].tls.key: ');
    expect(none.stderr).toContain('the key is encrypted: set passphrase');
    const wrong = await check(`{ cert: ${certs.enc.cert}, key: ${certs.enc.key}, passphrase: nope }`);
    expect(wrong.stderr).toContain('listen[0].tls.passphrase: ');
    const notPem = await check(`{ cert: ${certs.local.key}, key: ${certs.local.key} }`);
    expect(notPem.stderr).toContain('listen[0].tls.cert: ');
    expect(notPem.stderr).toContain('is not a PEM certificate');
  });

  it('relative paths are read from the config file directory; redirect_https needs a tls listener', async () => {
    const file = `${certs.dir}/rel.yaml`;
    writeFileSync(
      file,
      'listen:\n  - { port: 0, redirect_https: true }\n  - { port: 0, tls: { cert: local.crt, key: local.key } }\n',
    );
    expect((await runCliToEnd(['check', '-c', file])).code).toBe(0);
    const lone = tempFile('switchyard.yaml', 'listen:\n  - { port: 0, redirect_https: true }\n');
    const r = await runCliToEnd(['check', '-c', lone]);
    expect(r.stderr).toContain('listen[0].redirect_https: no listener has tls to redirect to');
  });
});

describe('with acceptor threads (the built CLI, threads: 2)', () => {
  it('every acceptor terminates TLS with the same certificates; the redirect points at the TLS port', async () => {
    const cli = await startCli(`threads: 2
listen:
  - { host: 127.0.0.1, port: 0, tls: { cert: ${certs.local.cert}, key: ${certs.local.key}, sni: { "*.example.com": { cert: ${certs.wild.cert}, key: ${certs.wild.key} } } } }
  - { host: 127.0.0.1, port: 0, redirect_https: true }
log: { access: off }
routes:
  - { path: /hello, respond: { body: "hello over tls" } }
`);
    try {
      const [tls, plain] = cli.ports;
      for (let i = 0; i < 6; i++) {
        const { stdout } = await run('curl', [
          '-sS',
          '--cacert',
          certs.local.cert,
          `https://127.0.0.1:${tls}/hello`,
        ]);
        expect(stdout).toBe('hello over tls');
      }
      const { stdout } = await run('curl', [
        '-sS',
        '--cacert',
        certs.wild.cert,
        '--resolve',
        `a.example.com:${tls}:127.0.0.1`,
        `https://a.example.com:${tls}/hello`,
      ]);
      expect(stdout).toBe('hello over tls');
      const head = await run('curl', [
        '-sS',
        '-o',
        '/dev/null',
        '-D',
        '-',
        `http://127.0.0.1:${plain}/hello`,
      ]);
      expect(head.stdout).toMatch(new RegExp(`location: https://127\\.0\\.0\\.1:${tls}/hello\\r`, 'i'));
    } finally {
      cli.kill('SIGKILL');
      await cli.exited;
    }
  });
});

describe('node engine: SNI names match in any case, with or without the final dot', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startServer(`
listen:
  - host: 127.0.0.1
    port: 0
    engine: node
    tls: { cert: ${certs.local.cert}, key: ${certs.local.key}, sni: { API.test: { cert: ${certs.api.cert}, key: ${certs.api.key} } } }
routes:
  - { path: /hello, respond: { body: "hello" } }
`);
  });
  afterAll(() => t?.close());

  it('API.TEST, api.test and api.test. get the api.test certificate', async () => {
    const subject = (out: string) => /subject=(.*)/.exec(out)?.[1]?.trim();
    for (const name of ['API.TEST', 'api.test', 'api.test.'])
      expect([name, subject(await sClient(t.port, ['-servername', name]))]).toEqual([
        name,
        expect.stringMatching(/CN ?= ?api\.test/),
      ]);
  });
});

describe.each(uwsAvailable() ? (['uws', 'node'] as const) : (['node'] as const))(
  'the scheme of a TLS listener (%s engine)',
  (engine) => {
    let upstream: Upstream;
    let s: TestServer;
    let tlsPort: number;
    let plainPort: number;
    beforeAll(async () => {
      upstream = await httpUpstream((req, res) => res.end(JSON.stringify(req.headers)));
      s = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, engine: ${engine} }
  - { host: 127.0.0.1, port: 0, engine: ${engine}, tls: { cert: ${certs.local.cert}, key: ${certs.local.key} } }
upstreams:
  up: { servers: [ { url: "${upstream.url}" } ] }
routes:
  - { path: /go, redirect: { to: "$scheme://$host/there", status: 302 } }
  - { path: "/p/*", proxy: up, strip_prefix: /p }
`);
      plainPort = s.server.listening[0]!.port;
      tlsPort = s.server.listening[1]!.port;
    });
    afterAll(async () => {
      await s?.close();
      await upstream?.close();
    });

    it('X-Forwarded-Proto is https over TLS, http without; a redirect’s $scheme follows it', async () => {
      const curl = async (url: string, extra: string[] = []) =>
        (await run('curl', ['-sS', '--cacert', certs.local.cert, ...extra, url])).stdout;
      const sent = async (url: string) => JSON.parse(await curl(url)) as Record<string, string>;
      expect((await sent(`https://localhost:${tlsPort}/p/x`))['x-forwarded-proto']).toBe('https');
      expect((await sent(`http://localhost:${plainPort}/p/x`))['x-forwarded-proto']).toBe('http');
      const location = async (url: string) =>
        /^location: (.*)\r$/im.exec(await curl(url, ['-o', '/dev/null', '-D', '-']))?.[1];
      expect(await location(`https://localhost:${tlsPort}/go`)).toBe(`https://localhost:${tlsPort}/there`);
      expect(await location(`http://localhost:${plainPort}/go`)).toBe(`http://localhost:${plainPort}/there`);
    });
  },
);

/** The engine-neutral TLS pieces: wildcard matching, and node:tls options from loaded material. */
import { once } from 'node:events';
import { createServer } from 'node:https';
import { connect } from 'node:tls';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTls, nodeTlsOptions, serverNameMatches, tlsSchema } from '../../src/tls/index.js';
import { makeCerts } from '../helpers/certs.js';

describe('serverNameMatches', () => {
  it('a wildcard covers exactly one label; names compare case-insensitively', () => {
    expect(serverNameMatches('*.example.com', 'a.example.com')).toBe(true);
    expect(serverNameMatches('*.example.com', 'A.Example.COM')).toBe(true);
    expect(serverNameMatches('*.example.com', 'example.com')).toBe(false);
    expect(serverNameMatches('*.example.com', 'a.b.example.com')).toBe(false);
    expect(serverNameMatches('*.example.com', 'aexample.com')).toBe(false);
    expect(serverNameMatches('api.test', 'API.test')).toBe(true);
    expect(serverNameMatches('api.test', 'x.api.test')).toBe(false);
  });
});

describe('nodeTlsOptions', () => {
  const certs = makeCerts();
  const cfg = tlsSchema(certs.dir).parse({
    cert: 'local.crt',
    key: 'local.key',
    sni: {
      '*.example.com': { cert: 'wild.crt', key: 'wild.key' },
      'api.test': { cert: 'api.crt', key: 'api.key' },
    },
  });
  const server = createServer(nodeTlsOptions(loadTls(cfg)), (_req, res) => res.end('ok'));
  afterAll(() => server.close());

  it('node:https picks the certificate by server name', async () => {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as { port: number };
    const cn = (servername?: string) =>
      new Promise<string>((resolve, reject) => {
        const s = connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false }, () => {
          resolve(String(s.getPeerCertificate().subject.CN));
          s.end();
        });
        s.on('error', reject);
      });
    expect(await cn('shop.example.com')).toBe('wild.example.com');
    expect(await cn('api.test')).toBe('api.test');
    expect(await cn('other.org')).toBe('localhost');
    expect(await cn(undefined)).toBe('localhost');
  });

  it('refuses TLS 1.1', async () => {
    const { port } = server.address() as { port: number };
    const err = await new Promise<Error>((resolve) => {
      const s = connect(
        { port, host: '127.0.0.1', rejectUnauthorized: false, maxVersion: 'TLSv1.1', minVersion: 'TLSv1' },
        () => resolve(new Error('connected')),
      );
      s.on('error', resolve);
    });
    expect(err.message).not.toBe('connected');
  });
});

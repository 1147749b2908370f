/**
 * Test certificates, made fresh with the openssl CLI (Debian's openssl, installed by .ci/run):
 * a localhost certificate, a `*.example.com` one, another for `api.test`, an encrypted key, and
 * a key that matches none of them.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selfSigned } from '../../loadtest/lib/certs.js';

export interface Certs {
  dir: string;
  /** CN=localhost, SAN localhost + 127.0.0.1 (RSA) */
  local: { cert: string; key: string };
  /** CN=wild.example.com, SAN *.example.com (EC P-256) */
  wild: { cert: string; key: string };
  /** CN=api.test (EC P-256) */
  api: { cert: string; key: string };
  /** CN=enc.test, key encrypted with passphrase "secret" */
  enc: { cert: string; key: string; passphrase: string };
  /** a key that matches no certificate here */
  stray: string;
}

export function makeCerts(): Certs {
  const dir = mkdtempSync(join(tmpdir(), 'sy-certs-'));
  const local = selfSigned(dir, 'local', '/CN=localhost', 'DNS:localhost,IP:127.0.0.1', false);
  const wild = selfSigned(dir, 'wild', '/CN=wild.example.com', 'DNS:*.example.com', true);
  const api = selfSigned(dir, 'api', '/CN=api.test', 'DNS:api.test', true);
  const stray = selfSigned(dir, 'stray', '/CN=stray', 'DNS:stray', true).key;
  const encKey = join(dir, 'enc.key');
  const encCert = join(dir, 'enc.crt');
  execFileSync(
    'openssl',
    [
      'genpkey',
      '-algorithm',
      'EC',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-aes256',
      '-pass',
      'pass:secret',
      '-out',
      encKey,
    ],
    { stdio: 'ignore' },
  );
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-key',
      encKey,
      '-passin',
      'pass:secret',
      '-out',
      encCert,
      '-days',
      '2',
      '-subj',
      '/CN=enc.test',
    ],
    { stdio: 'ignore' },
  );
  return { dir, local, wild, api, enc: { cert: encCert, key: encKey, passphrase: 'secret' }, stray };
}

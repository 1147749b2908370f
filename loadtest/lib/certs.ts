/**
 * A self-signed certificate made with the openssl CLI (Debian's openssl), valid two days: for
 * the TLS benchmarks and the tests (test/helpers/certs.ts).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';

export interface CertFiles {
  cert: string;
  key: string;
}

/**
 * `<dir>/<name>.crt` and `.key` for `subj` (e.g. `/CN=localhost`), with `san` as subjectAltName
 * when given (e.g. `DNS:localhost,IP:127.0.0.1`); an EC P-256 key, or RSA 2048 with `ec: false`.
 */
export function selfSigned(dir: string, name: string, subj: string, san?: string, ec = true): CertFiles {
  const key = join(dir, `${name}.key`);
  const cert = join(dir, `${name}.crt`);
  const alg = ec ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  const ext = san === undefined ? [] : ['-addext', `subjectAltName=${san}`];
  execFileSync(
    'openssl',
    ['req', '-x509', ...alg, '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', subj, ...ext],
    { stdio: 'ignore' },
  );
  return { cert, key };
}

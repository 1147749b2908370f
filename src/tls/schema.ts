/**
 * The `listen[].tls` keys, engine-neutral: any engine that terminates TLS (uWS's SSLApp, node:tls)
 * takes the same config and the same loaded material (./load.ts).
 *
 * ```yaml
 * listen:
 *   - port: 8443
 *     tls:
 *       cert: certs/site.crt          # PEM; the leaf first, then its chain
 *       key: certs/site.key           # PEM; may be encrypted (then `passphrase`)
 *       passphrase: ${KEY_PASS}
 *       ca: certs/clients.crt         # optional: CAs to verify client certificates against
 *       sni:
 *         "*.example.com": { cert: certs/wild.crt, key: certs/wild.key }
 * ```
 *
 * File paths are relative to the config file's directory. The certificate for a client that sends
 * no server name, or one no `sni` entry matches, is the top-level `cert`.
 */
import { isAbsolute, resolve } from 'node:path';
import { z } from 'zod';

/** The lowest protocol version any engine accepts (RFC 8996 deprecates TLS 1.0 and 1.1). */
export const TLS_MIN_VERSION = 'TLSv1.2' as const;

/** `example.com`, `www.example.com` or a one-label wildcard `*.example.com` (lower case). */
const SERVER_NAME = /^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

function filePath(baseDir: string) {
  return z
    .string()
    .min(1)
    .transform((p) => (isAbsolute(p) ? p : resolve(baseDir, p)))
    .meta({ description: 'a file path, relative to the config file' });
}

function pair(baseDir: string) {
  return {
    /** PEM certificate file: the leaf certificate first, then its intermediates */
    cert: filePath(baseDir),
    /** PEM private key file for `cert` */
    key: filePath(baseDir),
    /** decrypts an encrypted `key` */
    passphrase: z.string().min(1).optional(),
  };
}

/** The schema of `listen[].tls`, with file paths resolved against `baseDir`. */
export function tlsSchema(baseDir: string) {
  return z.strictObject({
    ...pair(baseDir),
    /** PEM file of CA certificates to verify client certificates against (mutual TLS) */
    ca: filePath(baseDir).optional(),
    /** server name (or `*.domain`; any case, kept lower case) → the certificate for clients that ask for it */
    sni: z
      .record(
        z
          .string()
          .transform((name) => name.toLowerCase())
          .pipe(z.string().regex(SERVER_NAME, 'expected a host name such as example.com or *.example.com')),
        z.strictObject(pair(baseDir)),
      )
      .default({}),
  });
}

export type TlsConfig = z.output<ReturnType<typeof tlsSchema>>;
export type TlsPairConfig = Pick<TlsConfig, 'cert' | 'key' | 'passphrase'>;

/**
 * Does `name` (the client's SNI) match `pattern`? A wildcard covers exactly one label, as in
 * RFC 6125 §6.4.3: `*.example.com` matches `a.example.com`, not `example.com` or `a.b.example.com`.
 */
export function serverNameMatches(pattern: string, name: string): boolean {
  const n = name.toLowerCase();
  if (!pattern.startsWith('*.')) return pattern === n;
  const suffix = pattern.slice(1);
  if (!n.endsWith(suffix)) return false;
  const label = n.slice(0, n.length - suffix.length);
  return label.length > 0 && !label.includes('.');
}

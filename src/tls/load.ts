/**
 * Loading TLS material from files, and proving it usable before any engine sees it: every file
 * reads, every certificate parses, every key decrypts (with its passphrase) and matches its
 * certificate (X509Certificate.checkPrivateKey). `switchyard check` runs this, start-up runs it,
 * and a reload runs it again, so certificates replaced on disk are re-read.
 *
 * Problems carry the path of the key inside `tls` (`['sni', '*.example.com', 'key']`) so the
 * config loader reports them as `listen[1].tls.sni.*.example.com.key: …`.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { TlsConfig, TlsPairConfig } from './schema.js';

export interface TlsProblem {
  path: (string | number)[];
  message: string;
}

/** One certificate and its key, read and checked. */
export interface TlsPair {
  certFile: string;
  keyFile: string;
  /** PEM text as read (leaf first, then the chain) */
  cert: string;
  /** PEM text as read (possibly encrypted) */
  key: string;
  passphrase: string | undefined;
  /** subject alternative names (or the subject) of the leaf, for logs */
  subject: string;
  notAfter: Date;
}

/** Everything an engine needs to terminate TLS for one listener. */
export interface TlsMaterial {
  /** for clients without a server name, or with one no `sni` entry matches */
  main: TlsPair;
  ca: { file: string; pem: string } | undefined;
  /** in config order */
  sni: { name: string; pair: TlsPair }[];
}

/** TLS material that failed to load; `problems` name the key inside `tls`. */
export class TlsLoadError extends Error {
  override readonly name = 'TlsLoadError';
  readonly problems: TlsProblem[];
  constructor(problems: TlsProblem[]) {
    super(problems.map((p) => `tls.${p.path.join('.')}: ${p.message}`).join('; '));
    this.problems = problems;
  }
}

function read(file: string, path: (string | number)[], problems: TlsProblem[]): string | undefined {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    problems.push({ path, message: `cannot read ${file}: ${e.code ?? e.message}` });
    return undefined;
  }
}

function loadPair(cfg: TlsPairConfig, at: (string | number)[], problems: TlsProblem[]): TlsPair | undefined {
  const before = problems.length;
  const certPem = read(cfg.cert, [...at, 'cert'], problems);
  const keyPem = read(cfg.key, [...at, 'key'], problems);
  let cert: X509Certificate | undefined;
  let key: KeyObject | undefined;
  if (certPem !== undefined) {
    try {
      cert = new X509Certificate(certPem);
    } catch (err) {
      problems.push({
        path: [...at, 'cert'],
        message: `${cfg.cert} is not a PEM certificate (${(err as Error).message})`,
      });
    }
  }
  if (keyPem !== undefined) {
    try {
      key = createPrivateKey(
        cfg.passphrase === undefined ? keyPem : { key: keyPem, passphrase: cfg.passphrase },
      );
    } catch (err) {
      const encrypted = keyPem.includes('ENCRYPTED');
      const [key, why] =
        encrypted && cfg.passphrase === undefined
          ? ['key', 'the key is encrypted: set passphrase']
          : encrypted
            ? ['passphrase', `wrong passphrase for the key (${(err as Error).message})`]
            : ['key', `not a PEM private key (${(err as Error).message})`];
      problems.push({ path: [...at, key], message: `${cfg.key}: ${why}` });
    }
  }
  if (cert !== undefined && key !== undefined && !cert.checkPrivateKey(key)) {
    problems.push({ path: [...at, 'key'], message: `${cfg.key} does not match the certificate ${cfg.cert}` });
  }
  if (problems.length !== before || cert === undefined || certPem === undefined || keyPem === undefined)
    return undefined;
  return {
    certFile: cfg.cert,
    keyFile: cfg.key,
    cert: certPem,
    key: keyPem,
    passphrase: cfg.passphrase,
    subject: cert.subjectAltName ?? cert.subject.replace(/\n/g, ', '),
    notAfter: new Date(cert.validTo),
  };
}

/** Every problem with `cfg`'s files; empty when they all load and match. */
export function tlsProblems(cfg: TlsConfig): TlsProblem[] {
  const problems: TlsProblem[] = [];
  collect(cfg, problems);
  return problems;
}

function collect(cfg: TlsConfig, problems: TlsProblem[]): TlsMaterial | undefined {
  const main = loadPair(cfg, [], problems);
  let ca: TlsMaterial['ca'];
  if (cfg.ca !== undefined) {
    const pem = read(cfg.ca, ['ca'], problems);
    if (pem !== undefined) {
      try {
        new X509Certificate(pem);
        ca = { file: cfg.ca, pem };
      } catch (err) {
        problems.push({
          path: ['ca'],
          message: `${cfg.ca} is not a PEM certificate (${(err as Error).message})`,
        });
      }
    }
  }
  const sni: TlsMaterial['sni'] = [];
  for (const [name, p] of Object.entries(cfg.sni)) {
    const pair = loadPair(p, ['sni', name], problems);
    if (pair !== undefined) sni.push({ name, pair });
  }
  if (problems.length > 0 || main === undefined) return undefined;
  return { main, ca, sni };
}

/** Read and check `cfg`'s files. Throws TlsLoadError naming every problem. */
export function loadTls(cfg: TlsConfig): TlsMaterial {
  const problems: TlsProblem[] = [];
  const material = collect(cfg, problems);
  if (material === undefined) throw new TlsLoadError(problems);
  return material;
}

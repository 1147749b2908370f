/**
 * TLS material as node:tls server options, for an engine built on node:http / node:https /
 * node:http2: a secure context per certificate, built once, and an SNICallback that picks one by
 * the client's server name (exact names first, then one-label wildcards, else the main one).
 */
import { createSecureContext, type SecureContext, type TlsOptions } from 'node:tls';
import type { TlsMaterial, TlsPair } from './load.js';
import { serverNameMatches, TLS_MIN_VERSION } from './schema.js';

function context(pair: TlsPair, ca: string | undefined): SecureContext {
  return createSecureContext({
    cert: pair.cert,
    key: pair.key,
    passphrase: pair.passphrase,
    ca,
    minVersion: TLS_MIN_VERSION,
  });
}

/** Server options for `https.createServer` / `http2.createSecureServer` / `tls.createServer`. */
export function nodeTlsOptions(material: TlsMaterial): TlsOptions {
  const ca = material.ca?.pem;
  const exact = new Map<string, SecureContext>();
  const wild: { pattern: string; ctx: SecureContext }[] = [];
  for (const { name, pair } of material.sni) {
    if (name.startsWith('*.')) wild.push({ pattern: name, ctx: context(pair, ca) });
    else exact.set(name, context(pair, ca));
  }
  const options: TlsOptions = {
    cert: material.main.cert,
    key: material.main.key,
    passphrase: material.main.passphrase,
    minVersion: TLS_MIN_VERSION,
  };
  if (ca !== undefined) {
    options.ca = ca;
    options.requestCert = true;
    options.rejectUnauthorized = false; // like uWS: a client without a certificate still connects
  }
  if (material.sni.length > 0) {
    options.SNICallback = (servername, cb) => {
      // DNS names are case-insensitive, and a fully qualified name may end in a dot
      const name = servername.toLowerCase().replace(/\.$/, '');
      const hit = exact.get(name) ?? wild.find((w) => serverNameMatches(w.pattern, name))?.ctx;
      cb(null, hit);
    };
  }
  return options;
}

/** TLS for every engine: the `listen[].tls` schema, loading and checking certificates, node:tls options. */
export {
  loadTls,
  type TlsLoadError,
  type TlsMaterial,
  type TlsPair,
  type TlsProblem,
  tlsProblems,
} from './load.js';
export { nodeTlsOptions } from './node.js';
export { serverNameMatches, TLS_MIN_VERSION, type TlsConfig, tlsSchema } from './schema.js';

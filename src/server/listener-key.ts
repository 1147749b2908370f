/** Which listeners a reload keeps open, and which it must refuse to replace in place. */
import type { ListenConfig } from '../config/schema.js';

/** Where a listener listens: two listeners at one address cannot both be open. */
export function listenerAddress(l: ListenConfig): string {
  return `${l.kind} ${l.host}:${l.port}`;
}

/**
 * A listener's identity across reloads: the same key in the new config keeps it open (its TLS
 * files are read again). Anything else about it changed means a new socket at the same address.
 */
export function listenerKey(l: ListenConfig): string {
  if (l.kind === 'tcp') return `${listenerAddress(l)} ${l.job} ${l.idle} ${l.max_connections}`;
  const shape = [
    l.engine ?? 'default',
    l.h2c === true ? 'h2c' : '',
    l.tls === undefined ? '' : 'tls',
    l.redirect_https === true ? 'redirect_https' : '',
    l.proxy_protocol ? 'proxy_protocol' : '',
    l.chunked_requests ?? '',
  ];
  return `${listenerAddress(l)} ${shape.filter((x) => x !== '').join(' ')}`;
}

/**
 * The small nginx-like tracks: `respond` (a fixed reply, built once) and `redirect` (with
 * nginx-style variables `$scheme`, `$host`, `$path`, `$query`, `$request_uri` in `to`).
 */
import { type Exchange, type Reply, safeValue } from '../exchange.js';

export function respondTrack(cfg: {
  status: number;
  headers?: Record<string, string> | undefined;
  body: string;
}): () => Reply {
  const reply: Reply = {
    status: cfg.status,
    headers: { 'content-type': 'text/plain; charset=utf-8', ...cfg.headers },
    body: cfg.body,
  };
  return () => reply;
}

export function redirectTrack(cfg: { to: string; status: number }): (ex: Exchange) => Reply {
  const headers = { location: cfg.to, 'content-type': 'text/plain; charset=utf-8' };
  const fixed: Reply = { status: cfg.status, headers, body: `redirecting to ${cfg.to}\n` };
  if (!cfg.to.includes('$')) return () => fixed;
  return (ex) => {
    const query = ex.query === '' ? '' : `?${ex.query}`;
    const to = cfg.to.replace(/\$(request_uri|scheme|host|path|query)\b/g, (_m, v: string) => {
      switch (v) {
        case 'request_uri':
          return ex.path + query;
        case 'scheme':
          return 'http';
        case 'host':
          return ex.host;
        case 'path':
          return ex.path;
        default:
          return ex.query;
      }
    });
    // The Host field is the client's: never let it smuggle a line break into Location.
    const location = safeValue(to) ? to : cfg.to;
    return {
      status: cfg.status,
      headers: { location, 'content-type': 'text/plain; charset=utf-8' },
      body: `redirecting to ${location}\n`,
    };
  };
}

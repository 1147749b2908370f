/**
 * Readiness and liveness, as a balancer or an orchestrator asks for them. Both are answered by the
 * pipeline before routing (a catch-all route cannot shadow them), on every listener, to GET and
 * HEAD:
 *
 * - **readiness** is 200 only while the server takes new work: 503 while starting (listeners still
 *   opening) and from the first moment of a drain, while requests are still served for
 *   `shutdown.delay` so that a balancer's health check fails before we stop accepting;
 * - **liveness** is 200 until the process exits (a drain is not a failure to restart over).
 */
import type { Reply } from '../exchange.js';

export type ProbeKind = 'readiness' | 'liveness';

/** The process's state as readiness reports it. */
export class Readiness {
  state: 'starting' | 'ready' | 'draining' = 'starting';
}

/** path → probe, from `probes:`; null when none is configured (the pipeline then skips the lookup). */
export function compileProbes(cfg: { readiness?: string | undefined; liveness?: string | undefined }) {
  const m = new Map<string, ProbeKind>();
  if (cfg.readiness !== undefined) m.set(cfg.readiness, 'readiness');
  if (cfg.liveness !== undefined) m.set(cfg.liveness, 'liveness');
  return m.size === 0 ? null : m;
}

const HEADERS = { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store' };
const OK: Reply = { status: 200, headers: HEADERS, body: 'ok\n' };
const STARTING: Reply = { status: 503, headers: HEADERS, body: 'starting\n' };
const DRAINING: Reply = { status: 503, headers: HEADERS, body: 'draining\n' };
const METHOD: Reply = { status: 405, headers: { ...HEADERS, allow: 'GET, HEAD' }, body: 'GET or HEAD\n' };

/** The answer to a probe request. */
export function probeReply(kind: ProbeKind, method: string, r: Readiness): Reply {
  if (method !== 'GET' && method !== 'HEAD') return METHOD;
  if (kind === 'liveness' || r.state === 'ready') return OK;
  return r.state === 'starting' ? STARTING : DRAINING;
}

/** What every scenario runner is handed. */
import type { ServerId, StartResult } from '../contenders/index.js';
import type { LoadTool } from './load.js';
import type { Options } from './options.js';

export interface RunEnv {
  opts: Options;
  tool: LoadTool;
  tmp: string;
  distLoadtest: string;
  /** Start outcome of every server the run needed (absent: filtered out with --contenders). */
  servers: Map<ServerId, StartResult>;
  log(line: string): void;
}

/** The running server `id`, or why there is none. */
export function serverOf(env: RunEnv, id: ServerId) {
  const s = env.servers.get(id);
  if (!s) return { ok: false as const, status: 'skipped' as const, reason: 'not selected (--contenders)' };
  if (!s.ok) return { ok: false as const, status: 'failed' as const, reason: s.reason };
  const ended = s.server.proc.ended();
  if (ended !== null)
    return { ok: false as const, status: 'failed' as const, reason: `exited during the run (${ended})` };
  return { ok: true as const, server: s.server };
}

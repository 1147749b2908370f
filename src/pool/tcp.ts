/** The TCP line-protocol job listener (placeholder: the pool implementation replaces this file). */
import type { ListenConfig } from '../config/schema.js';
import type { Logs } from '../observe/log.js';
import type { JobPool } from './index.js';

export async function listenTcp(
  l: ListenConfig,
  _pool: JobPool,
  _logs: Logs,
): Promise<{ port: number; close(): Promise<void> }> {
  throw new Error(`listen ${l.host}:${l.port}: tcp listeners are not implemented yet`);
}

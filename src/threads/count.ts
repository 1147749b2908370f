/**
 * How many acceptor threads a config asks for. `threads: auto` is one per core
 * (`availableParallelism()`); the default is 1, where the main thread serves and nothing crosses
 * a thread (see README, "Threads and shared state", for why 1 is the default).
 */
import { availableParallelism } from 'node:os';
import type { Config } from '../config/schema.js';

export function threadCount(config: Pick<Config, 'threads'>): number {
  return config.threads === 'auto' ? availableParallelism() : config.threads;
}

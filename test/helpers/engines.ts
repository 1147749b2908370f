/**
 * Which engines the tests can run here. uWebSockets.js loads only on Node 16–20 with glibc; on
 * Node 22/24 (CI's second run) the node engine is the default and uWS-specific tests skip
 * themselves, naming this reason.
 */
import { it } from 'vitest';
import { loadUws } from '../../src/server/uws/load.js';

export type Engine = 'uws' | 'node';

let problem: string | undefined | null = null;

/** Why uWS cannot load here, or undefined when it can. */
export function uwsProblem(): string | undefined {
  if (problem === null) {
    try {
      loadUws();
      problem = undefined;
    } catch (err) {
      problem = (err as Error).message;
    }
  }
  return problem;
}

/** Can uWebSockets.js load on this Node? (`describe.skipIf(!uwsAvailable())` for uWS-only tests) */
export function uwsAvailable(): boolean {
  return uwsProblem() === undefined;
}

/** The engine a listener without `engine:` gets in this run (SWITCHYARD_ENGINE, else uws where it loads). */
export function defaultEngine(): Engine {
  const env = process.env.SWITCHYARD_ENGINE;
  if (env === 'node' || env === 'uws') return env;
  return uwsAvailable() ? 'uws' : 'node';
}

const nodeMajor = Number(process.versions.node.split('.')[0]);

/**
 * Extra RSS a memory bound allows on Node ≥ 22: V8 there lets more garbage build up before a
 * scavenge. Measured on Node 24 streaming 1 GiB through the proxy to a slow reader: RSS saws
 * between 134 and 180 MiB (Node 20: +49 MiB peak); the same 64 MiB stream, server and reader in
 * separate processes, grows the server by 1.2 MiB — received chunks not yet collected, not
 * buffering. A server that buffered a whole stream still fails every bound that uses this.
 */
export const GC_SLACK = nodeMajor >= 22 ? 48 * 1024 * 1024 : 0;

/** A test of a documented uWS gap: `it.fails` where the default engine is uWS, `it` where it is node. */
export const uwsGapIt: typeof it.fails = defaultEngine() === 'uws' ? it.fails : it;

/**
 * The Connection field the default engine writes on a keep-alive answer: node:http says
 * `keep-alive` (with `Keep-Alive: timeout=N`), uWS writes nothing.
 */
export function keepAliveField(): string[] {
  return defaultEngine() === 'node' ? ['keep-alive'] : [];
}

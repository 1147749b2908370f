/**
 * The engine registry: each engine's module, imported when a listener first asks for it. Adding
 * an engine is a folder under src/server/ and one line here.
 */
import type { Engine, EngineOptions } from './engine.js';

export const engines = {
  uws: async (opts: EngineOptions): Promise<Engine> => new (await import('./uws/engine.js')).UwsEngine(opts),
  node: async (opts: EngineOptions): Promise<Engine> =>
    new (await import('./node/engine.js')).NodeEngine(opts),
} as const;

export type EngineName = keyof typeof engines;

/** Why uWS cannot run here, or undefined when it can (the answer is kept: it cannot change). */
let uwsProblem: Promise<string | undefined> | undefined;

export function uwsUnavailable(): Promise<string | undefined> {
  uwsProblem ??= import('./uws/load.js').then(
    (m) => {
      try {
        m.loadUws();
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    },
    (err: Error) => `uWebSockets.js could not be imported: ${err.message}`,
  );
  return uwsProblem;
}

/** The engine a listener gets, and a note for the start-up log when it is not the one asked for. */
export interface EngineChoice {
  name: EngineName;
  /** set when the default (uws) cannot load here and `node` serves instead */
  fallback: string | undefined;
}

/**
 * `engine:` as configured (undefined: the default). The default is uws where it loads, node
 * elsewhere (Node 22/24, musl); an explicit `uws` that cannot load is an error naming why.
 */
export async function chooseEngine(
  asked: EngineName | undefined,
  where: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<EngineChoice> {
  // SWITCHYARD_ENGINE picks the default for listeners that name none (e.g. to run a test suite on node)
  const byEnv = env.SWITCHYARD_ENGINE;
  if (asked === undefined && (byEnv === 'node' || byEnv === 'uws')) asked = byEnv;
  if (asked === 'node') return { name: 'node', fallback: undefined };
  const problem = await uwsUnavailable();
  if (problem === undefined) return { name: 'uws', fallback: undefined };
  if (asked === 'uws') throw new EngineUnavailable(`${where}.engine is uws, but ${problem}`);
  return { name: 'node', fallback: problem };
}

export class EngineUnavailable extends Error {
  override readonly name = 'EngineUnavailable';
}

/**
 * The engine registry: each engine's module, imported when a listener first asks for it. Adding
 * an engine is a folder under src/server/ and one line here.
 */
import type { Engine, EngineOptions } from './engine.js';

export const engines = {
  uws: async (opts: EngineOptions): Promise<Engine> => new (await import('./uws/engine.js')).UwsEngine(opts),
} as const;

export type EngineName = keyof typeof engines;

/**
 * The fuzz requests: request i of a seed is built from its own PRNG stream, so any index a run
 * reports can be rebuilt (and replayed) alone: `fuzzRequest(seed, i).bytes`.
 */
import { CORPUS } from './corpus.js';
import { mutate } from './mutate.js';
import { Rand } from './prng.js';

/** The PRNG of request i (a 32-bit mix of seed and index). */
export function requestRand(seed: number, i: number): Rand {
  let h = (seed ^ Math.imul(i + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  return new Rand(h);
}

/** The i-th fuzz request for a seed (for replaying one). */
export function fuzzRequest(seed: number, i: number): { bytes: string; applied: string[]; r: Rand } {
  const r = requestRand(seed, i);
  return { ...mutate(CORPUS, r), r };
}

/**
 * The only place that loads uWebSockets.js. The package we install silently falls back to a slow
 * pure-JS implementation when its native binary does not load (wrong Node ABI, old glibc), after
 * printing a warning nobody reads. We refuse to run on the fallback unless asked to, because every
 * performance and protocol fact in platform.md is about the native build.
 */

import type * as UWS from 'uWebSockets.js';
import { createRequire } from 'node:module';

export type Uws = typeof UWS;

export class UwsLoadError extends Error {
  override readonly name = 'UwsLoadError';
}

/** The native module exports these; the JS fallback does not (platform.md). */
export function isNative(mod: object): boolean {
  return 'H3App' in mod && 'getParts' in mod;
}

let loaded: Uws | undefined;

export function loadUws(
  env: NodeJS.ProcessEnv = process.env,
  warn: (msg: string) => void = console.warn,
): Uws {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const mod = require('uWebSockets.js') as Uws;
  if (!isNative(mod)) {
    const what =
      `uWebSockets.js native binary did not load for Node ${process.version} (ABI ${process.versions.modules}) ` +
      `on ${process.platform}-${process.arch}; only its slow JavaScript fallback is available.`;
    if (env.SWITCHYARD_ALLOW_UWS_FALLBACK !== '1') {
      throw new UwsLoadError(
        `${what} Use Node 16, 18 or 20 on glibc >= 2.27 (the binaries shipped by ` +
          '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0), unset UWS_USE_FALLBACK, and reinstall with npm ci. ' +
          'To run on the fallback anyway (slow, not for production), set SWITCHYARD_ALLOW_UWS_FALLBACK=1.',
      );
    }
    warn(
      `switchyard: warning: ${what} Running on it because SWITCHYARD_ALLOW_UWS_FALLBACK=1; expect poor performance.`,
    );
  } else {
    // Do not advertise "uWebSockets: 20" on every response.
    mod._cfg('999999990007');
  }
  loaded = mod;
  return mod;
}

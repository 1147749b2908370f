/**
 * The only place that loads uWebSockets.js. The package we install silently falls back to a slow
 * pure-JS implementation when its native binary does not load (wrong Node ABI, old glibc), after
 * printing a warning nobody reads. We refuse to run on the fallback: it cannot serve a request
 * (see loadUws), and every fact in docs/uws.md is about the native build.
 */

import type * as UWS from 'uWebSockets.js';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Uws = typeof UWS;

export class UwsLoadError extends Error {
  override readonly name = 'UwsLoadError';
}

/** The native module exports these; the JS fallback does not (docs/uws.md, "Loading"). */
export function isNative(mod: object): boolean {
  return 'H3App' in mod && 'getParts' in mod;
}

let loaded: Uws | undefined;

/**
 * Load the native uWS module, or throw UwsLoadError saying what happened and what to do.
 *
 * Deliberately no way to run on the fallback: the JS fallback shipped in this package (ganache's
 * shim) throws "Not implemented" from HttpRequest.forEach, getCaseSensitiveMethod, tryEnd,
 * onWritable, pause/resume, endWithoutBody and getRemoteAddressAsText — every request would fail.
 * `SWITCHYARD_ALLOW_UWS_FALLBACK=1` is recognised only to explain that.
 */
export function loadUws(env: NodeJS.ProcessEnv = process.env): Uws {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  // No binary for this Node ABI (Node 22/24): say so without loading the package, which would
  // print its own warning about falling back before we refuse the fallback.
  const binary = join(
    dirname(dirname(require.resolve('uWebSockets.js'))),
    'binaries',
    `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`,
  );
  const mod = existsSync(binary) ? (require('uWebSockets.js') as Uws) : undefined;
  if (mod === undefined || !isNative(mod)) {
    const what =
      `uWebSockets.js native binary did not load for Node ${process.version} (ABI ${process.versions.modules}) ` +
      `on ${process.platform}-${process.arch}` +
      (mod === undefined
        ? ': the package has no binary for this Node'
        : '; only its JavaScript fallback is available');
    const todo =
      'Use Node 20 (20.18.1 or later; the native build also exists for 16 and 18, which undici 7 does not support) on Linux/macOS with glibc >= 2.27 (the binaries shipped by ' +
      '@trufflesuite/uws-js-unofficial@20.30.0-unofficial.0), make sure UWS_USE_FALLBACK is not set, and reinstall with npm ci.';
    const why =
      env.SWITCHYARD_ALLOW_UWS_FALLBACK === '1'
        ? ' SWITCHYARD_ALLOW_UWS_FALLBACK=1 is set, but this fallback cannot serve Switchyard: it does not implement ' +
          'HttpRequest.forEach, tryEnd, onWritable or pause/resume.'
        : '';
    throw new UwsLoadError(`${what}. ${todo}${why}`);
  }
  // Do not advertise "uWebSockets: 20" on every response.
  mod._cfg('999999990007');
  loaded = mod;
  return mod;
}

/**
 * The seams the layout promises, checked on the source: the uWS binding is imported only by its
 * engine, handler modules reach Switchyard only through src/api.ts, the runtime stands alone, no
 * source file grows past 400 lines.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';

function files(dir: string, ext = /\.(ts|js|mjs)$/): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(packageRoot, dir))) {
    const rel = join(dir, name);
    if (statSync(join(packageRoot, rel)).isDirectory()) out.push(...files(rel, ext));
    else if (ext.test(name)) out.push(rel);
  }
  return out;
}

/** Module specifiers of static and dynamic imports and re-exports. */
function imports(file: string): string[] {
  const text = readFileSync(join(packageRoot, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g))
    out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

describe('layout boundaries', () => {
  it('only src/server/uws imports uWebSockets.js', () => {
    const offenders = files('src').filter(
      (f) => !f.startsWith('src/server/uws/') && imports(f).includes('uWebSockets.js'),
    );
    expect(offenders).toEqual([]);
  });

  it('routes/ imports only src/api.ts (and Node built-ins, and each other)', () => {
    const offenders: string[] = [];
    for (const f of files('routes')) {
      for (const spec of imports(f)) {
        const ok =
          spec.startsWith('node:') ||
          /^(\.\.\/)+src\/api\.js$/.test(spec) ||
          (spec.startsWith('./') && !spec.includes('/src/'));
        if (!ok) offenders.push(`${f}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/runtime imports nothing else from src/', () => {
    const offenders: string[] = [];
    for (const f of files('src/runtime')) {
      for (const spec of imports(f)) if (spec.startsWith('../')) offenders.push(`${f}: ${spec}`);
    }
    expect(offenders).toEqual([]);
  });

  it('no file in src/ is over 400 lines', () => {
    const long = files('src')
      .map((f) => ({ f, n: readFileSync(join(packageRoot, f), 'utf8').split('\n').length }))
      .filter((x) => x.n > 400);
    expect(long).toEqual([]);
  });
});

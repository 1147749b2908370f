import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = join(import.meta.dirname, '../../src/runtime');
const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));

describe('src/runtime is a leaf', () => {
  it('imports only its own files and node builtins', () => {
    for (const f of files) {
      const src = readFileSync(join(dir, f), 'utf8');
      for (const m of src.matchAll(/^(?:import|export)[^'"]*from '([^']+)'/gm)) {
        expect(m[1], `${f} imports ${m[1]}`).toMatch(/^(node:|\.\/[\w-]+\.js$)/);
      }
    }
  });

  it('never uses AbortSignal.any (it leaks on Node 20)', () => {
    for (const f of files) {
      const code = readFileSync(join(dir, f), 'utf8').replace(/\/\/.*$|\/\*[\s\S]*?\*\//gm, '');
      expect(code, f).not.toMatch(/AbortSignal\.any/);
    }
  });
});

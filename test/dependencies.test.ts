/**
 * package.json's runtime dependencies and the README's table of what each is for stay equal, and
 * a dependency the table calls "used" is imported by src/ (one that is not is marked "reserved",
 * with its reason), so no package sits in the install without anyone knowing why.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sources(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

describe('dependencies', () => {
  it('every runtime dependency is in the README table, and each marked used is imported by src/', () => {
    const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
    };
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const section = readme.slice(readme.indexOf('## Dependencies'), readme.indexOf('## Layout'));
    const table = new Map(
      [...section.matchAll(/^\| `([^`]+)` \| (used|reserved): (.+) \|$/gm)].map((m) => [m[1]!, m[2]!]),
    );
    expect([...table.keys()].sort()).toEqual(Object.keys(pkg.dependencies).sort());
    const code = sources(join(packageRoot, 'src'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    for (const [name, status] of table) {
      const imported = new RegExp(`from '${name.replace('.', '\\.')}(/[^']*)?'|import\\('${name}`).test(code);
      expect(imported, `${name} is marked ${status}`).toBe(status === 'used');
    }
  });
});

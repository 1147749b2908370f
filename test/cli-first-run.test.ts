/**
 * The CLI as a newcomer first meets it: `--version`, a clear word for an unknown option, `npx
 * switchyard` before the first build, and the Node version stated once and checked at start-up.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { MIN_NODE } from '../src/node-version.js';
import { CLI, runCliToEnd } from './helpers/cli.js';

const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as {
  version: string;
  bin: Record<string, string>;
  engines: { node: string };
};

describe('CLI first run', () => {
  it('--version and -v print the version like the version command', async () => {
    for (const args of [['--version'], ['-v'], ['version']]) {
      const r = await runCliToEnd(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout).toBe(`switchyard ${pkg.version} (node ${process.version})\n`);
    }
  });

  it('an unknown option is one short line and the usage', async () => {
    const r = await runCliToEnd(['start', '--frob']);
    expect(r.code).toBe(2);
    expect(r.stderr.split('\n')[0]).toBe('switchyard: unknown option --frob');
  });

  it('npx switchyard before the first build says how to build', () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-fresh-'));
    cpSync(join(packageRoot, 'package.json'), join(dir, 'package.json'));
    const bin = pkg.bin.switchyard!;
    expect(bin.startsWith('dist/')).toBe(false); // a fresh clone has no dist/
    mkdirSync(join(dir, dirname(bin)), { recursive: true });
    cpSync(join(packageRoot, bin), join(dir, bin));
    // --no: never fetch from the registry; the package's own bin must answer
    const r = spawnSync('npx', ['--no', 'switchyard', 'version'], { cwd: dir, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('switchyard: not built yet');
    expect(r.stderr).toContain('npm run build');
  });

  it('the Node version is stated once: package.json engines and README agree with the check', () => {
    expect(pkg.engines.node).toBe(`>=${MIN_NODE}`);
    const lock = JSON.parse(readFileSync(join(packageRoot, 'package-lock.json'), 'utf8'));
    expect(lock.packages[''].engines.node).toBe(`>=${MIN_NODE}`);
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    expect(readme).toContain(`Needs Node ${MIN_NODE}`);
  });

  it('an older Node is refused at start-up with the version it needs', () => {
    // Make the built CLI see Node 20.12.0 (a preload, the CLI itself untouched).
    const fake = 'data:text/javascript,Object.defineProperty(process.versions,"node",{value:"20.12.0"})';
    for (const cmd of ['start', 'check', 'version']) {
      const r = spawnSync(process.execPath, ['--import', fake, CLI, cmd], { encoding: 'utf8' });
      expect(r.status, cmd).toBe(1);
      expect(r.stderr).toBe(
        `switchyard: Node ${MIN_NODE} or later is needed (undici 7 requires it); this is Node 20.12.0\n`,
      );
    }
  });
});

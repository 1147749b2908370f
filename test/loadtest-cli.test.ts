/**
 * The `bench:*` scripts' command lines, built (dist/loadtest) and run as a user runs them:
 * `--help` prints the usage and exits 0; a mistake (an unknown option, a value out of range) is
 * named on stderr with the usage and exits 2, without a stack trace and before anything starts.
 */
import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a built loadtest script; one that starts a real run instead of refusing is killed, and fails. */
function script(name: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [join(packageRoot, 'dist', 'loadtest', `${name}.js`), ...args],
      { timeout: 20_000, killSignal: 'SIGTERM' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof err.code === 'number' ? err.code : null;
        resolve({ code, stdout, stderr });
      },
    );
  });
}

const SCRIPTS: { name: string; usage: string; bad: string[]; says: string }[] = [
  {
    name: 'bench',
    usage: 'npm run bench',
    bad: ['--rounds=0'],
    says: '--rounds: "0" is not a whole number ≥ 1',
  },
  { name: 'ab', usage: 'npm run bench:ab', bad: ['--this=nope'], says: '--this: "nope" is not a contender' },
  {
    name: 'profile',
    usage: 'npm run bench:profile',
    bad: ['--target=nginx'],
    says: '--target: "nginx" is not one of switchyard,',
  },
  { name: 'pool-latency', usage: 'npm run bench:pool', bad: ['--n=91'], says: '--n: "91" is over 90' },
  { name: 'threads', usage: 'npm run bench:threads', bad: ['--duration=soon'], says: '--duration: "soon"' },
  {
    name: 'websocket',
    usage: 'npm run bench:ws',
    bad: ['--idle=-5'],
    says: '--idle: "-5" is not a whole number',
  },
  {
    name: 'edge',
    usage: 'npm run bench:edge',
    bad: ['--only=static-2k'],
    says: '--only: "static-2k" is not a scenario',
  },
  {
    name: 'metrics-cost',
    usage: 'npm run bench:metrics',
    bad: ['--rounds=3'],
    says: "Unknown option '--rounds'",
  },
  {
    name: 'scope-bench',
    usage: 'npx tsc -p tsconfig.build.json && node dist/loadtest/scope-bench.js',
    bad: ['--n=lots'],
    says: '--n: "lots"',
  },
];

describe('the bench scripts’ command lines', () => {
  for (const s of SCRIPTS) {
    it(`${s.name}: --help, an unknown option, a bad value`, async () => {
      const [help, unknown, bad] = await Promise.all([
        script(s.name, ['--help']),
        script(s.name, ['--bogus']),
        script(s.name, s.bad),
      ]);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain(`usage: ${s.usage}`);
      expect(unknown).toMatchObject({ code: 2, stdout: '' });
      expect(unknown.stderr).toMatch(new RegExp(`^${s.name}: Unknown option '--bogus'`));
      expect(bad).toMatchObject({ code: 2, stdout: '' });
      expect(bad.stderr).toContain(`${s.name}: ${s.says}`);
      for (const r of [unknown, bad]) {
        expect(r.stderr).toContain(`usage: ${s.usage}`);
        expect(r.stderr).not.toMatch(/^\s+at /m);
      }
    });
  }
});

/** A port that was free a moment ago (the origin takes --port N, not 0). */
async function freePort(): Promise<number> {
  const srv = createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as { port: number };
  await new Promise((r) => srv.close(r));
  return port;
}

describe('the origin run by hand (loadtest/README: behind your own proxy route)', () => {
  it('serves with stdin at its end (/dev/null, a background job), and still follows a parent pipe', async () => {
    const port = await freePort();
    const origin = spawn(
      process.execPath,
      [join(packageRoot, 'dist', 'loadtest', 'origin.js'), '--port', String(port)],
      {
        stdio: ['ignore', 'ignore', 'inherit'],
      },
    );
    let exited = false;
    origin.on('exit', () => {
      exited = true;
    });
    try {
      let body = '';
      while (!exited && body === '') {
        body = await fetch(`http://127.0.0.1:${port}/small`).then(
          (r) => r.text(),
          () => new Promise<string>((r) => setTimeout(() => r(''), 50)),
        );
      }
      expect(exited).toBe(false);
      expect(body).toBe('hello world\n');
    } finally {
      origin.kill('SIGTERM');
    }
    const child = spawn(
      process.execPath,
      [join(packageRoot, 'dist', 'loadtest', 'origin.js'), '--port', String(port)],
      {
        stdio: ['pipe', 'ignore', 'inherit'],
      },
    );
    child.stdin.end();
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
  });
});

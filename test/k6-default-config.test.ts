/**
 * A user's first `k6 run loadtest/k6/proxy.js` (or game.js, over WebSockets) against `npm start`:
 * the script's default paths must exist on the default config. k6 is not installable here, so its dry checker runs each VU
 * function once in live mode: real requests to the built CLI serving conf/switchyard.yaml (ports
 * moved to free ones), real `check()`s, a status k6 counts as failed (>= 400, or not among a
 * request's `http.expectedStatuses`) a failure.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { freePort, startCli } from './helpers/cli.js';

const CHECK = join(packageRoot, 'loadtest', 'k6', 'check.mjs');

function k6Live(baseUrl: string, script: string, env: Record<string, string> = {}) {
  const e = Object.entries(env).flatMap(([k, v]) => ['-e', `${k}=${v}`]);
  return spawnSync(
    process.execPath,
    [
      '--experimental-vm-modules',
      '--no-warnings',
      CHECK,
      '--live',
      baseUrl,
      ...e,
      join(packageRoot, 'loadtest', 'k6', script),
    ],
    { encoding: 'utf8', timeout: 60_000 },
  );
}

describe('k6 scripts against the default config', () => {
  it('proxy.js, smoke.js and game.js pass with their defaults; a path the config lacks fails', async () => {
    const [main, second, tcp] = [await freePort(), await freePort(), await freePort()];
    const yaml = readFileSync(join(packageRoot, 'conf', 'switchyard.yaml'), 'utf8')
      .replaceAll('port: 8080', `port: ${main}`)
      .replaceAll('port: 8081', `port: ${second}`)
      .replaceAll('127.0.0.1:8081', `127.0.0.1:${second}`)
      .replaceAll('port: 9000', `port: ${tcp}`)
      .replace('access: stdout', 'access: off');
    const c = await startCli(yaml);
    try {
      const base = `http://127.0.0.1:${main}`;
      for (const script of ['proxy.js', 'smoke.js']) {
        const r = k6Live(base, script);
        expect(r.stdout, script).toContain(`${script} ok`);
        expect(r.status, r.stdout).toBe(0);
      }
      // the checker does fail on a 404: the bench-origin variant is not served by this config
      const bench = k6Live(base, 'proxy.js', { ORIGIN: 'bench' });
      expect(bench.status).toBe(1);
      expect(bench.stdout).toContain('/small: status 404');
      // …unless the script says a 404 is what it expects there (responseCallback, as k6 reads it)
      const expected404 = k6Live(base, 'smoke.js', { NOT_FOUND_PATH: '/nope' });
      expect(expected404.stdout, expected404.stdout).toContain('smoke.js ok');
      expect(expected404.status).toBe(0);
      // game.js (k6/ws): one player joins the room, moves, sees itself in the state, leaves with 1000
      const game = k6Live(base, 'game.js', { SESSION_MS: '1500' });
      expect(game.stdout, game.stdout).toContain('game.js ok');
      expect(game.status).toBe(0);
      const nowhere = k6Live(base, 'game.js', { SESSION_MS: '300', WS_PATH: '/nope' });
      expect(nowhere.status).toBe(1);
      expect(nowhere.stdout).toContain('/nope?name=k6-1: status 404');
      expect(nowhere.stdout).toContain('check "game: handshake answered 101" failed');
    } finally {
      c.kill();
      await c.exited;
    }
  });
});

describe('the dry check (npm run typecheck)', () => {
  it('passes every script with its output on a file, as under `npm test > log` (Node 20 crashed on the third)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'k6-check-'));
    const out = openSync(join(dir, 'out'), 'w');
    try {
      const r = spawnSync(process.execPath, ['--experimental-vm-modules', '--no-warnings', CHECK], {
        stdio: ['ignore', out, 'pipe'],
        encoding: 'utf8',
        timeout: 60_000,
      });
      expect({ status: r.status, signal: r.signal }).toEqual({ status: 0, signal: null });
      expect(readFileSync(join(dir, 'out'), 'utf8')).toMatch(/k6 check: (\d+) of \1 scripts ok/);
    } finally {
      closeSync(out);
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

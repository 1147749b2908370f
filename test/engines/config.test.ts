/**
 * The engine keys of the config: `engine`, `h2c`, `tls` on listeners and the node engine's
 * timeouts under `limits`, each problem named by its path; and the choice of engine itself.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, packageRoot, parseConfig } from '../../src/config/load.js';
import { chooseEngine, EngineUnavailable } from '../../src/server/engines.js';
import { uwsAvailable } from '../helpers/engines.js';

const FILE = join(packageRoot, 'conf', 'test.yaml');

function problems(yaml: string): string[] {
  try {
    parseConfig(yaml, FILE, {});
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('engine configuration', () => {
  it('accepts engine, h2c and the timeouts', () => {
    const { config } = parseConfig(
      `listen:
  - { port: 1, engine: node }
  - { port: 2, engine: node, h2c: true }
  - { port: 3, engine: uws }
limits: { header_timeout: 5s, keepalive_timeout: 10s, request_timeout: 1m, send_timeout: 30s }
`,
      FILE,
      {},
    );
    expect(config.listen.map((l) => l.engine)).toEqual(['node', 'node', 'uws']);
    expect(config.limits).toMatchObject({
      header_timeout: 5000,
      keepalive_timeout: 10_000,
      request_timeout: 60_000,
      send_timeout: 30_000,
    });
  });

  it('names the path of each bad key', () => {
    expect(problems('listen: [{ port: 1, engine: apache }]')[0]).toMatch(/^listen\[0\]\.engine: /);
    expect(problems('listen: [{ port: 1, engine: uws, h2c: true }]')).toEqual([
      'listen[0].h2c: h2c needs engine: node',
    ]);
    expect(problems('listen: [{ port: 1, kind: tcp, job: fib, engine: node }]')).toContain(
      'listen[0].engine: only http listeners take engine',
    );
    expect(problems('limits: { header_timeout: 10m, request_timeout: 1m }')).toEqual([
      'limits.header_timeout: longer than request_timeout',
    ]);
  });

  it('chooses node when asked, uws by default where it loads, node (with the reason) where it does not', async () => {
    expect(await chooseEngine('node', 'listen[0]', {})).toEqual({ name: 'node', fallback: undefined });
    expect((await chooseEngine(undefined, 'listen[0]', { SWITCHYARD_ENGINE: 'node' })).name).toBe('node');
    const d = await chooseEngine(undefined, 'listen[0]', {});
    if (uwsAvailable()) {
      expect(d).toEqual({ name: 'uws', fallback: undefined });
    } else {
      expect(d.name).toBe('node');
      expect(d.fallback).toMatch(/native binary did not load/);
      await expect(chooseEngine('uws', 'listen[2]', {})).rejects.toThrow(EngineUnavailable);
      await expect(chooseEngine('uws', 'listen[2]', {})).rejects.toThrow(/^listen\[2\]\.engine is uws, but /);
    }
  });
});

/**
 * `${VAR}` in config values: numbers and booleans from the environment, in block and flow style,
 * quoted or not; the variable's text never becomes YAML structure; a missing one is one problem.
 */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, packageRoot, parseConfig } from '../src/config/load.js';

const FILE = join(packageRoot, 'test', 'fixtures', 'handlers', 'test.yaml');

function problems(yaml: string, env: NodeJS.ProcessEnv): string[] {
  try {
    parseConfig(yaml, FILE, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('${VAR} expansion', () => {
  it('supplies a port in flow style (unquoted and quoted) and in block style', () => {
    const env = { PORT: '18080' };
    for (const yaml of [
      'listen:\n  - { host: 127.0.0.1, port: ${PORT} }',
      'listen:\n  - { host: 127.0.0.1, port: "${PORT}" }',
      'listen:\n  - host: 127.0.0.1\n    port: ${PORT}',
      "listen:\n  - host: 127.0.0.1\n    port: '${PORT}'",
      'listen: [ { port: ${PORT} } ]',
    ]) {
      expect(parseConfig(yaml, FILE, env).config.listen[0], yaml).toMatchObject({ port: 18080 });
    }
  });

  it('a default may be a number too, and may hold YAML syntax characters', () => {
    const yaml =
      'listen:\n  - { port: ${PORT:-9090} }\nroutes:\n  - { path: /a, respond: { body: "${MSG:-a, b: {c [d] #e}" } }';
    const { config } = parseConfig(yaml, FILE, {});
    expect(config.listen[0]!.port).toBe(9090);
    expect(config.routes[0]).toMatchObject({ respond: { body: 'a, b: {c [d] #e' } });
  });

  it('supplies booleans and numbers deeper in, and keeps strings strings', () => {
    const yaml = [
      'pool: { threads: ${THREADS}, queue: ${QUEUE} }',
      'upstreams:',
      '  app: { servers: [ { url: "http://127.0.0.1:${UP_PORT}", backup: false }, { url: "http://127.0.0.1:1", backup: ${B} } ] }',
      'routes:',
      '  - { path: /a, respond: { status: ${STATUS}, body: ${BODY} } }',
    ].join('\n');
    const env = { THREADS: '2', QUEUE: '16', UP_PORT: '9001', B: 'true', STATUS: '201', BODY: '42' };
    const { config } = parseConfig(yaml, FILE, env);
    expect(config.pool).toMatchObject({ threads: 2, queue: 16 });
    expect(config.upstreams.app!.servers[0]!.url).toBe('http://127.0.0.1:9001');
    expect(config.upstreams.app!.servers[1]!.backup).toBe(true);
    expect(config.routes[0]).toMatchObject({ respond: { status: 201, body: '42' } });
    expect(parseConfig(yaml, FILE, { ...env, THREADS: 'auto' }).config.pool.threads).toBe('auto');
  });

  it("a variable's value is data, never YAML structure", () => {
    const yaml = 'routes:\n  - { path: /a, respond: { body: ${BODY} } }';
    const body = 'x }\n  - { path: /b, respond: { body: injected } }';
    const { config } = parseConfig(yaml, FILE, { BODY: body });
    expect(config.routes).toHaveLength(1);
    expect(config.routes[0]).toMatchObject({ respond: { body } });
  });

  it('a missing variable is one problem, naming it', () => {
    expect(problems('listen:\n  - { port: ${PORT} }', {})).toEqual([
      'listen[0].port: environment variable PORT is not set',
    ]);
    expect(problems('listen:\n  - { port: "${PORT}" }', { PORT: '' })).toEqual([
      'listen[0].port: environment variable PORT is not set',
    ]);
  });

  it('a value that is not a number where one is needed says what it got', () => {
    expect(problems('listen:\n  - { port: ${PORT} }', { PORT: 'http' })).toEqual([
      'listen[0].port: Invalid input: expected number, received string (from ${PORT})',
    ]);
    expect(problems('listen:\n  - { port: ${PORT} }', { PORT: '70000' })).toEqual([
      'listen[0].port: Too big: expected number to be <=65535',
    ]);
  });
});

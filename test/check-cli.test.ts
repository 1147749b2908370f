/**
 * `switchyard check` through the built CLI: what a newcomer's first mistakes print. Each problem
 * names its config path (or file and line), never a bare engine message.
 */
import { describe, expect, it } from 'vitest';
import { runCliToEnd, tempFile } from './helpers/cli.js';

async function check(yaml: string, env: NodeJS.ProcessEnv = {}) {
  const file = tempFile('switchyard.yaml', yaml);
  return { file, ...(await runCliToEnd(['check', '-c', file], env)) };
}

describe('switchyard check: first-hour mistakes', () => {
  it('an upstream url without a scheme names its config path', async () => {
    const r = await check('upstreams:\n  app: { servers: [ { url: "127.0.0.1:18300" } ] }\n');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      'upstreams.app.servers[0].url: expected an http:// or https:// URL such as http://127.0.0.1:8081',
    );
    expect(r.stderr).not.toMatch(/Invalid URL/);
  });

  it('a YAML syntax error keeps its line, column and context', async () => {
    const r = await check(
      'routes:\n  - { path: /a, respond: { body: a }\n  - { path: /b, respond: { body: b } }\n',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/\(parse\) line 3, column 3: .+ end with a \}\n/);
    expect(r.stderr).toContain('|   - { path: /a, respond: { body: a }');
    expect(r.stderr).toMatch(/\| {3}\^/);
  });

  it('${PORT} in flow style: a number when set, one line naming it when not', async () => {
    const yaml =
      'listen:\n  - { host: 127.0.0.1, port: ${PORT} }\nroutes:\n  - { path: /a, respond: { body: a } }\n';
    const ok = await check(yaml, { PORT: '18080' });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const missing = await check(yaml, { PORT: '' });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(
      `${missing.file}: 1 configuration problem\n  listen[0].port: environment variable PORT is not set\n`,
    );
  });
});

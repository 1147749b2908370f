/**
 * `switchyard check` through the built CLI: what a newcomer's first mistakes print. Each problem
 * names its config path (or file and line), never a bare engine message.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCliToEnd, startCli, tempFile } from './helpers/cli.js';

/** A routes folder with these files (relative path → source). */
function routesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-routes-'));
  for (const [name, src] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), src);
  }
  return dir;
}

function status(port: number, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode!));
    });
    req.on('error', reject);
    req.end();
  });
}

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

  it('loads every handler and job module: a syntax error or a throwing top level names config path, file and line', async () => {
    const dir = routesDir({
      'ok.js': 'export default () => ({ status: 200, body: "ok" });\n',
      'broken.js': 'export default async function (ctx) {\n  return { status: 200,\n',
      'jobs/bad.js': 'const x = 1;\nthrow new Error("boom at the top");\nexport default (n) => n;\n',
      'jobs/good.js': 'export default (n) => n;\n',
    });
    const yaml = `routes_dir: ${dir}\nroutes:\n  - { path: /ok, handler: ok }\n  - { path: /b, handler: broken }\n`;
    const r = await check(yaml);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `routes[1].handler: ${join(dir, 'broken.js')}:3: SyntaxError: Unexpected end of input`,
    );
    expect(r.stderr).toContain(
      `routes_dir: job module ${join(dir, 'jobs', 'bad.js')}:2: Error: boom at the top`,
    );
    expect(r.stderr).toMatch(/2 configuration problems/);
    // start refuses the same way, before it listens
    const file = tempFile('switchyard.yaml', `listen:\n  - { host: 127.0.0.1, port: 0 }\n${yaml}`);
    const s = await runCliToEnd(['start', '-c', file]);
    expect(s.code).toBe(1);
    expect(s.stderr).toContain(`routes[1].handler: ${join(dir, 'broken.js')}:3: SyntaxError`);
  });

  it('a module with no import or export (loaded as CommonJS) that throws at its top level names its line', async () => {
    const dir = routesDir({ 'plain.js': 'const x = 1;\nthrow new Error("boom in a plain script");\n' });
    const r = await check(`routes_dir: ${dir}\nroutes:\n  - { path: /p, handler: plain }\n`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `routes[0].handler: ${join(dir, 'plain.js')}:2: Error: boom in a plain script`,
    );
  });

  it('a routes_dir that does not exist, or holds only TypeScript, is named as the cause of a missing module', async () => {
    const src = routesDir({ 'hi.ts': 'export default () => ({ status: 200, body: "hi" });\n' });
    const gone = join(src, 'nowhere');
    const r = await check(
      `listen:\n  - { port: 0, kind: tcp, job: fib }\nroutes_dir: ${gone}\nroutes:\n  - { path: /x, handler: hi }\n  - { path: /w, websocket: game }\n`,
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(
      `listen[0].job: unknown job "fib" (looked for ${join(gone, 'jobs', 'fib.js')}, but there is no folder ${join(gone, 'jobs')})`,
    );
    expect(r.stderr).toContain(
      `routes[0].handler: no handler module "hi" (looked for ${join(gone, 'hi.js')}, but there is no folder ${gone})`,
    );
    expect(r.stderr).toContain(
      `routes[1].websocket: no websocket module "game" (looked for ${join(gone, 'game.js')}, but there is no folder ${gone})`,
    );
    const ts = await check(`routes_dir: ${src}\nroutes:\n  - { path: /x, handler: hi }\n`);
    expect(ts.stderr).toContain(
      `routes[0].handler: no handler module "hi" (looked for ${join(src, 'hi.js')}; ${join(src, 'hi.ts')} is TypeScript: routes_dir names the compiled .js)`,
    );
  });

  it('an empty config passes with a warning: no routes', async () => {
    const r = await check('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('configuration ok');
    expect(r.stderr).toContain('warning: routes: no routes: every HTTP request will be answered 404');
  });

  it('a route an earlier one always takes first, or on a probe path, passes with a warning naming both', async () => {
    const r = await check(
      [
        'probes: { readiness: /readyz }',
        'routes:',
        '  - { path: "/x/*", respond: { body: a } }',
        '  - { path: /x/y, respond: { body: b } }',
        '  - { path: "/x/:id", respond: { body: c } }',
        '  - { path: /m, methods: [POST], respond: { body: d } }',
        '  - { path: /m, respond: { body: e } }',
        '  - { path: "/x*", respond: { body: f } }',
        '  - { path: /readyz, respond: { body: g } }',
        '',
      ].join('\n'),
    );
    expect(r.code).toBe(0);
    const warnings = r.stderr
      .trim()
      .split('\n')
      .map((l) => l.slice(l.indexOf('warning: ') + 9));
    expect(warnings).toEqual([
      'routes[1]: never matched: routes[0] (/x/*) takes its requests first',
      'routes[2]: never matched: routes[0] (/x/*) takes its requests first',
      "routes[6]: /readyz is the readiness probe's path, answered before routing",
    ]);
  });

  it('a "*" that could never match is refused with the pattern that works', async () => {
    const r = await check(
      'routes:\n  - { path: "/a/*/b", respond: { body: a } }\n  - { path: "/fib/:n*", respond: { body: a } }\n  - { path: "/s?x=1", respond: { body: a } }\n',
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('routes[0].path: "*" is a wildcard only at the end of a pattern (try "/a/*")');
    expect(r.stderr).toContain(
      'routes[1].path: after a :parameter, a wildcard is a whole segment: "/fib/:n/*"',
    );
    expect(r.stderr).toContain('routes[2].path: a route pattern is a path');
  });

  it('"/stall*" matches every path that starts with /stall (as in Caddy)', async () => {
    const yaml =
      'listen:\n  - { host: 127.0.0.1, port: 0 }\nlog: { access: off }\nroutes:\n  - { path: "/stall*", respond: { body: s } }\n';
    expect((await check(yaml)).code).toBe(0);
    const c = await startCli(yaml);
    try {
      const port = c.ports[0]!;
      expect(await status(port, '/stall')).toBe(200);
      expect(await status(port, '/stalled')).toBe(200);
      expect(await status(port, '/stall/x')).toBe(200);
      expect(await status(port, '/stal')).toBe(404);
    } finally {
      c.kill();
      await c.exited;
    }
  });
});

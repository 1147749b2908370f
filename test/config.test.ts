import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, packageRoot, parseConfig } from '../src/config/load.js';
import { parseDuration, parseSize } from '../src/config/units.js';
import { hasReusePort } from '../src/node-version.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');
const FILE = join(fixtures, 'test.yaml'); // routes_dir below is relative to this

/** The problems of a config, or [] when it is valid. */
function problems(yaml: string, env: NodeJS.ProcessEnv = {}, file = FILE): string[] {
  try {
    parseConfig(yaml, file, env);
    return [];
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
}

describe('config', () => {
  it('accepts the default configuration', () => {
    const { config } = loadConfig(join(packageRoot, 'conf', 'switchyard.yaml'));
    expect(config.listen[0]).toMatchObject({ host: '127.0.0.1', port: 8080 });
    expect(config.limits.body).toBe(1024 * 1024);
    expect(config.limits.header_bytes).toBe(16 * 1024);
    expect(config.shutdown.grace).toBe(10_000);
    expect(config.routes.some((r) => r.track === 'handler' && r.handler === 'hello')).toBe(true);
  });

  it('fills defaults for an empty file', () => {
    const { config } = parseConfig('', FILE, {});
    expect(config.listen).toEqual([{ host: '127.0.0.1', port: 8080, kind: 'http' }]);
    expect(config.limits).toEqual({
      body: 1048576,
      headers: 100,
      header_bytes: 16384,
      uri: 8192,
      header_timeout: 60_000,
      keepalive_timeout: 75_000,
      request_timeout: 300_000,
      send_timeout: 60_000,
    });
    expect(config.pool).toEqual({ threads: 'auto', queue: 256, idle: 30_000 });
  });

  it('parses sizes and durations', () => {
    expect(parseSize('1MiB')).toBe(1048576);
    expect(parseSize('64KiB')).toBe(65536);
    expect(parseSize('1m')).toBe(1048576);
    expect(parseSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseSize(512)).toBe(512);
    expect(parseSize('lots')).toMatch(/invalid size "lots"/);
    expect(parseDuration('30s')).toBe(30_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('0')).toBe(0);
    expect(parseDuration(30)).toMatch(/needs a unit/);
    expect(parseDuration('30')).toMatch(/invalid duration/);
    expect(parseDuration('30d')).toMatch(/too long/);
  });

  it('reports an unknown key with its path', () => {
    expect(problems('limits: { body: 1MiB, bodee: 2MiB }')).toEqual(['limits.bodee: unknown key']);
    expect(problems('routes:\n  - { path: /a, respond: { body: x }, timout: 5s }')).toEqual([
      'routes[0].timout: unknown key',
    ]);
  });

  it('reports bad sizes, durations and types with their paths', () => {
    const p = problems(
      [
        'limits: { body: huge }',
        'shutdown: { grace: 10 }',
        'listen:',
        '  - { port: 99999 }',
        'pool: { threads: many }',
      ].join('\n'),
    );
    expect(p).toContain('limits.body: invalid size "huge": expected e.g. 512, 64KiB, 1MiB, 2g');
    expect(p).toContain('shutdown.grace: duration 10 needs a unit: write 10ms or 10s');
    expect(p.some((x) => x.startsWith('listen[0].port:'))).toBe(true);
    expect(p.some((x) => x.startsWith('pool.threads:'))).toBe(true);
  });

  it("README's config examples are YAML this loader reads (no duplicate key, no parse problem)", () => {
    const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/^```yaml\n([\s\S]*?)^```/gm)].map((m) => m[1]!);
    expect(blocks.length).toBeGreaterThan(3);
    for (const block of blocks) {
      // a list of routes is shown without its key
      const yaml = block.startsWith('-') ? `routes:\n${block.replace(/^/gm, '  ')}` : block;
      expect(problems(yaml, { KEY_PASS: 'x' }).filter((p) => p.startsWith('(parse)'))).toEqual([]);
    }
  });

  it('a size, duration or rate of the wrong type says what is expected, not "Invalid input"', () => {
    expect(
      problems(
        [
          'limits: { body: true, header_bytes: [1] }',
          'shutdown: { grace: { a: 1 } }',
          'routes: [{ path: /a, respond: {}, rate: { limit: true } }]',
        ].join('\n'),
      ),
    ).toEqual([
      'limits.body: expected a size such as 512, 64KiB, 1MiB, 2g',
      'limits.header_bytes: expected a size such as 512, 64KiB, 1MiB, 2g',
      'shutdown.grace: expected a duration such as 250ms, 30s, 5m, 1h',
      'routes[0].rate.limit: expected a rate such as 100/s, 600/m, 1000/h',
    ]);
  });

  it('reports an unknown upstream as routes[i].proxy', () => {
    const yaml = [
      'routes:',
      '  - { path: /a, respond: { body: a } }',
      '  - { path: /b, respond: { body: b } }',
      '  - { path: "/api/*", proxy: api }',
    ].join('\n');
    expect(problems(yaml)).toEqual(['routes[2].proxy: unknown upstream "api"']);
  });

  it('reports a route with no track or two tracks', () => {
    expect(problems('routes:\n  - { path: /a }')).toEqual([
      'routes[0]: a route needs one of handler, proxy, respond, redirect, static, websocket, metrics, status',
    ]);
    expect(problems('routes:\n  - { path: /a, respond: { body: a }, redirect: { to: /b } }')).toEqual([
      'routes[0]: a route takes one of handler, proxy, respond, redirect, static, websocket, metrics, status (got respond and redirect)',
    ]);
  });

  it('names a misspelt track key (handlr:) as unknown, not only "a route needs one of"', () => {
    expect(problems('routes:\n  - { path: /a, handlr: hello, timeout: 2s }')).toEqual([
      'routes[0].handlr: unknown key',
      'routes[0]: a route needs one of handler, proxy, respond, redirect, static, websocket, metrics, status',
    ]);
  });

  it('reports a handler module that does not exist', () => {
    const p = problems('routes_dir: .\nroutes:\n  - { path: /a, handler: nope }');
    expect(p).toHaveLength(1);
    expect(p[0]).toMatch(/^routes\[0\]\.handler: no handler module "nope"/);
    expect(problems('routes_dir: .\nroutes:\n  - { path: /a, handler: read }')).toEqual([]);
  });

  it('expands ${VAR} and ${VAR:-default}, and names a missing variable', () => {
    const yaml =
      'listen:\n  - { host: "${HOST:-127.0.0.1}", port: 8080 }\nroutes:\n  - { path: /a, respond: { body: "${GREETING}" } }';
    const { config } = parseConfig(yaml, FILE, { GREETING: 'hi' });
    expect(config.routes[0]).toMatchObject({ track: 'respond', respond: { body: 'hi' } });
    expect(config.listen[0]!.host).toBe('127.0.0.1');
    expect(problems(yaml, {})).toEqual(['routes[0].respond.body: environment variable GREETING is not set']);
  });

  it('collects every problem at once', () => {
    const p = problems('limits: { body: x, uri: y }\nroutes:\n  - { path: nope, respond: { body: a } }');
    expect(p).toHaveLength(3);
  });

  it('checks references across sections', () => {
    const p = problems(
      [
        'listen:',
        '  - { port: 8080 }',
        '  - { port: 8080 }',
        '  - { port: 9000, kind: tcp }',
        '  - { port: 9001, idle: 5s }',
        'upstreams:',
        '  u: { servers: [ { url: "http://127.0.0.1:1" } ], balance: hash }',
        'routes:',
        '  - { path: /a, respond: { body: a }, strip_prefix: /a }',
      ].join('\n'),
    );
    expect(p).toContain('listen[1]: 127.0.0.1:8080 is already used by listen[0]');
    expect(p).toContain('listen[2].job: a tcp listener needs a job');
    expect(p).toContain('listen[3].idle: only tcp listeners take idle');
    expect(p).toContain(
      'upstreams.u.hash_key: required when balance is hash (ip, header:NAME or cookie:NAME)',
    );
    expect(p).toContain('routes[0].strip_prefix: only applies to proxy routes');
  });

  it('listeners that would collide at start: a wildcard address beside one of its addresses; node engine with threads before Node 22.12', () => {
    const p = problems(
      [
        'listen:',
        '  - { host: 127.0.0.1, port: 8080 }',
        '  - { host: 0.0.0.0, port: 8080 }',
        '  - { host: "::", port: 8081 }',
        '  - { host: 127.0.0.1, port: 8081 }',
        '  - { host: 127.0.0.1, port: 8082 }',
        '  - { host: "::1", port: 8082 }',
      ].join('\n'),
    );
    expect(p).toContain(
      'listen[1]: 0.0.0.0:8080 overlaps listen[0] (127.0.0.1:8080): one of them binds every interface',
    );
    expect(p).toContain(
      'listen[3]: 127.0.0.1:8081 overlaps listen[2] ([::]:8081): one of them binds every interface',
    );
    expect(p.some((x) => x.startsWith('listen[5]'))).toBe(false); // ::1 and 127.0.0.1 are apart
    // host names as containers and /etc/hosts write them pass (binding them is start's business)
    expect(
      problems('listen: [{ host: app_1.internal, port: 8080 }, { host: localhost, port: 8081 }]'),
    ).toEqual([]);
    const threaded = problems('threads: 2\nlisten:\n  - { host: 127.0.0.1, port: 8080, engine: node }');
    if (hasReusePort()) expect(threaded).toEqual([]);
    else
      expect(threaded[0]).toMatch(
        /^listen\[0\]\.engine: with threads, the node engine needs Node 22\.12 or later/,
      );
  });

  it('chunked_requests: refuse by default, accept on request, an error on a tcp listener or a bad value', () => {
    const { listen } = parseConfig(
      'listen: [{ port: 0 }, { port: 0, chunked_requests: accept }]\n',
      FILE,
      {},
    ).config;
    expect(listen.map((l) => l.chunked_requests ?? 'refuse')).toEqual(['refuse', 'accept']);
    const p = problems(
      'listen: [{ port: 0, chunked_requests: yes }, { port: 0, kind: tcp, job: fib, chunked_requests: accept }]\n',
    );
    expect(p.some((x) => x.startsWith('listen[0].chunked_requests:'))).toBe(true);
    expect(p).toContain('listen[1].chunked_requests: only http listeners take chunked_requests');
  });

  it('refuses header values with CR or LF', () => {
    const p = problems('routes:\n  - { path: /a, respond: { body: a, headers: { x-a: "1\\r\\nx-b: 2" } } }');
    expect(p).toEqual(['routes[0].respond.headers.x-a: header value must not contain CR, LF or NUL']);
  });

  it('reads JSON too, and reports syntax errors', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-conf-'));
    const json = join(dir, 'c.json');
    writeFileSync(json, JSON.stringify({ routes: [{ path: '/a', respond: { body: 'a' } }] }));
    expect(loadConfig(json).config.routes).toHaveLength(1);
    writeFileSync(json, '{"routes": [');
    expect(() => loadConfig(json)).toThrow(/\(parse\)/);
    const yaml = join(dir, 'c.yaml');
    writeFileSync(yaml, 'routes: [\n  - {');
    expect(() => loadConfig(yaml)).toThrow(/\(parse\)/);
    writeFileSync(yaml, 'limits: {}\nlimits: {}');
    expect(() => loadConfig(yaml)).toThrow(/\(parse\)/);
    expect(() => loadConfig(join(dir, 'missing.yaml'))).toThrow(/\(file\): cannot read: ENOENT/);
  });

  it('route patterns routing never sees: raw non-ASCII, a backslash, lower-case escapes — with the form that matches', () => {
    expect(
      problems(
        [
          'routes:',
          '  - { path: "/ünï", respond: { body: a } }',
          '  - { path: "/back\\\\slash", respond: { body: a } }',
          '  - { path: "/a%c3%bc", respond: { body: a } }',
          '  - { path: "/%C3%BCn", respond: { body: a } }',
        ].join('\n'),
      ),
    ).toEqual([
      'routes[0].path: routing sees the path percent-encoded, as clients send it: write "/%C3%BCn%C3%AF"',
      'routes[1].path: a path with "\\" is refused before routing (400): this route never matches',
      'routes[2].path: escapes are matched with capital hex digits: write "/a%C3%BC"',
    ]);
  });

  it('messages that say what is expected: threads, a redirect status, a size too large; no echo of an empty server list', () => {
    expect(problems('threads: many')).toEqual(['threads: expected auto or a whole number 1–256']);
    expect(problems('routes: [{ path: /a, redirect: { to: /b, status: 200 } }]')).toEqual([
      'routes[0].redirect.status: expected 301, 302, 303, 307 or 308',
    ]);
    expect(problems('limits: { body: 99999999999999999999 }')).toEqual([
      'limits.body: invalid size 100000000000000000000: too large (at most 2^53 − 1 bytes)',
    ]);
    expect(problems('upstreams: { u: { servers: [] } }\nroutes: [{ path: /a, proxy: u }]')).toEqual([
      'upstreams.u.servers: Too small: expected array to have >=1 items',
    ]);
    const dir = mkdtempSync(join(tmpdir(), 'sy-conf-'));
    const json = join(dir, 'c.json');
    writeFileSync(json, '{"routes": [\n {"path": "/a",\n "respond": {}\n ]}');
    expect(() => loadConfig(json)).toThrow(/\(parse\) line 4, column 2: Expected ',' or '}'/);
  });

  it('an alias inside what it names, and an alias bomb, are parse problems of the file (not a stack overflow)', () => {
    expect(problems('a: &a [*a]\n')).toEqual(['(parse): an alias (*name) inside what it names']);
    let bomb = 'a: &a [x, x, x, x, x, x, x, x, x]\n';
    for (let i = 1; i < 10; i++)
      bomb += `b${i}: &b${i} [${Array(9)
        .fill(i === 1 ? '*a' : `*b${i - 1}`)
        .join(', ')}]\n`;
    expect(problems(bomb)).toEqual([expect.stringMatching(/^\(parse\): Excessive alias count/)]);
    // an alias used twice is fine (the unknown keys are the only problems)
    expect(problems('x: &x { a: 1 }\ny: [*x, *x]\n')).toEqual(['x: unknown key', 'y: unknown key']);
  });
});

describe('config: threads, shared, rate', () => {
  it('reads threads (default 1), shared structures and a route rate', () => {
    const { config } = parseConfig(
      `threads: 2\nshared: { counters: [hits], buckets: { api: { limit: 600/m, burst: 5 } }, tables: { s: { size: 100 } } }\nroutes:\n  - { path: /a, respond: { body: ok }, rate: { limit: 100/s, burst: 50, key: "header:x-key" } }\n`,
      FILE,
      {},
    );
    expect(config.threads).toBe(2);
    expect(config.shared.buckets.api).toEqual({ limit: 10, burst: 5 });
    expect(config.shared.tables.s).toEqual({ size: 100, key: 64, value: 256 });
    expect(config.routes[0]!.rate).toEqual({ limit: 100, burst: 50, key: 'header:x-key', keys: 65_536 });
    expect(parseConfig('', FILE, {}).config.threads).toBe(1);
  });

  it('names the path of a bad threads, shared or rate key', () => {
    expect(problems('threads: 0\n')[0]).toMatch(/^threads:/);
    expect(problems('threads: many\n')[0]).toMatch(/^threads:/);
    expect(problems('routes:\n  - { path: /a, respond: { body: ok }, rate: { limit: 100 } }\n')).toEqual([
      'routes[0].rate.limit: rate 100 needs a unit: write 100/s or 100/m',
    ]);
    expect(
      problems('routes:\n  - { path: /a, respond: { body: ok }, rate: { limit: 5/s, key: "query:x" } }\n'),
    ).toEqual(['routes[0].rate.key: expected ip, header:NAME or cookie:NAME']);
    expect(problems('shared: { tables: { t: { size: 10, value: 1MiB } } }\n')).toEqual([
      'shared.tables.t.value: value: at most 64KiB',
    ]);
    expect(problems('shared: { counters: [a, b, a] }\n')).toEqual([
      'shared.counters[2]: counter "a" is declared twice',
    ]);
  });
});

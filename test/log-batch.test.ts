import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import type { Exchange } from '../src/exchange.js';
import { millis } from '../src/observe/access-line.js';
import { isoTimeCached, TurnBatch } from '../src/observe/batch.js';
import { createLogs, logAccess } from '../src/observe/log.js';
import { until } from './helpers/wait.js';

describe('access-log lines batched per event-loop turn', () => {
  it('hands the lines of one turn to the destination as one write, in order', async () => {
    const writes: string[] = [];
    const batch = new TurnBatch({ write: (b: Buffer) => writes.push(b.toString('utf8')) });
    batch.write('a\n');
    batch.write('b\n');
    expect(writes).toEqual([]);
    await new Promise((r) => setImmediate(r));
    expect(writes).toEqual(['a\nb\n']);
    batch.write('c\n');
    batch.handOver();
    expect(writes).toEqual(['a\nb\n', 'c\n']);
    await new Promise((r) => setImmediate(r));
    expect(writes).toHaveLength(2); // the scheduled turn finds nothing left
  });

  it('holds bytes until minLength, never rewrites bytes it handed over, and passes large turns whole', async () => {
    const got: Buffer[] = [];
    const batch = new TurnBatch({ write: (b: Buffer) => got.push(b) }, { minLength: 1000 });
    const turn = async (lines: string[]) => {
      for (const l of lines) batch.write(l);
      await new Promise((r) => setImmediate(r));
    };
    const sent: string[] = [];
    const line = (i: number, pad: number) => {
      const l = `{"i":${i},"s":"${'ü€'.repeat(pad)}"}\n`;
      sent.push(l);
      return l;
    };
    await turn([line(0, 10)]);
    expect(got).toHaveLength(0); // below minLength: held
    const snapshot: string[] = [];
    for (let i = 1; i < 400; i++) {
      await turn([line(i, i % 7 === 0 ? 12_000 : 40), line(i + 1000, 3)]);
      // what was handed over stays as it was, whatever is written after it
      for (let k = snapshot.length; k < got.length; k++) snapshot.push(got[k]!.toString('utf8'));
    }
    batch.close();
    const all = got.map((b) => b.toString('utf8'));
    expect(all.slice(0, snapshot.length)).toEqual(snapshot);
    expect(all.join('')).toBe(sent.join(''));
    // a short write only just before a large turn's own (order kept) or at the close
    got.forEach((b, k) => {
      if (b.length < 1000 && k < got.length - 1) expect(got[k + 1]!.length).toBeGreaterThan(20_000);
    });
  });

  it('writes every line to an access-log file, and flush() at shutdown loses none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-batch-'));
    const file = join(dir, 'logs', 'access.log');
    const logs = createLogs({ level: 'warn', access: file, error: 'stderr' });
    // whole lines only: a read may land while a write is still arriving
    const read = () => {
      if (!existsSync(file)) return [];
      const text = readFileSync(file, 'utf8');
      return text
        .slice(0, text.lastIndexOf('\n') + 1)
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => JSON.parse(l) as { i: number; time: string });
    };
    for (let i = 0; i < 300; i++) logs.access!.info({ i, path: `/p/${i}` });
    // written a turn later, once SonicBoom has its file open (300 lines exceed its 4 KiB minimum)
    await until(() => read().length === 300, 'the first 300 lines');
    for (let i = 300; i < 3000; i++) logs.access!.info({ i, path: `/p/${i}` });
    logs.flush(); // before the turn ends: what is gathered is written synchronously
    const lines = read();
    expect(lines.map((l) => l.i)).toEqual(Array.from({ length: 3000 }, (_, i) => i));
    expect(new Date(lines[0]!.time).toISOString()).toBe(lines[0]!.time);
  });

  it('formats the time as pino isoTime does', () => {
    const stamp = isoTimeCached();
    expect(stamp).toMatch(/^,"time":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"$/);
    const t = Date.parse(stamp.slice(9, -1));
    expect(Math.abs(Date.now() - t)).toBeLessThan(60_000);
  });
});

describe('access line built by hand', () => {
  /** An exchange as logAccess reads it, with awkward strings where clients control them. */
  function exchange(over: Record<string, unknown> = {}) {
    const headers: Record<string, string> = {
      'user-agent': 'curl/8 "quoted" \\ back\tslash ünïcode \u2028',
      referer: 'http://a.example/?q=</script>&x="1"',
    };
    return {
      id: 'req-1',
      remoteAddress: '127.0.0.1',
      method: 'GET',
      host: 'a.example:8080',
      path: '/p/"x"\\y',
      query: 'a=1&b="2"',
      route: '/p/*',
      track: 'proxy',
      status: 200,
      bytesIn: 0,
      bytesOut: 12,
      startTime: performance.now(),
      upstream: '127.0.0.1:1, 127.0.0.1:2',
      upstreamStatus: 200,
      upstreamTime: 1.23456,
      tries: 2,
      closedBy: 'server',
      errorCode: 'SY_ERR_UPSTREAM_RESET',
      logExtra: { upstream_errors: ['SY_ERR_UPSTREAM_RESET'] },
      header: (n: string) => headers[n],
      ...over,
    } as unknown as Exchange;
  }

  it('is the JSON pino would write for the same fields (child bindings, escaping, absent fields)', () => {
    const lines: string[] = [];
    const logs = createLogs(
      { level: 'info', access: 'stdout', error: 'stderr' },
      { error: { write: () => {} }, access: { write: (s: string) => lines.push(s) } },
    );
    const access = logs.access!.child({ thread: 1 });
    const ex = exchange();
    logAccess(access, ex, () => '10.0.0.1');
    const ex2 = exchange({
      host: '',
      query: '',
      upstream: undefined,
      closedBy: undefined,
      errorCode: undefined,
      logExtra: undefined,
      header: () => undefined,
    });
    logAccess(access, ex2);
    expect(lines).toHaveLength(2);
    for (const l of lines) expect(l.endsWith('}\n')).toBe(true);
    const [a, b] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(a).toMatchObject({
      level: 30,
      thread: 1,
      id: 'req-1',
      client: '10.0.0.1',
      peer: '127.0.0.1',
      host: 'a.example:8080',
      path: '/p/"x"\\y',
      query: 'a=1&b="2"',
      user_agent: 'curl/8 "quoted" \\ back\tslash ünïcode \u2028',
      referer: 'http://a.example/?q=</script>&x="1"',
      upstream_ms: 1.235,
      tries: 2,
      closed_by: 'server',
      err: 'SY_ERR_UPSTREAM_RESET',
      upstream_errors: ['SY_ERR_UPSTREAM_RESET'],
    });
    expect(Object.keys(b!).sort()).toEqual(
      [
        'level',
        'time',
        'thread',
        'id',
        'client',
        'peer',
        'method',
        'path',
        'route',
        'track',
        'status',
        'bytes_in',
        'bytes_out',
        'ms',
      ].sort(),
    );
    expect(b!.client).toBe('127.0.0.1');
  });

  it('keeps no stale part when consecutive lines differ in one field (peer, method, host, path, route, status, agent, logger)', () => {
    const lines: string[] = [];
    const mk = () =>
      createLogs(
        { level: 'info', access: 'stdout', error: 'stderr' },
        { error: { write: () => {} }, access: { write: (s: string) => lines.push(s) } },
      ).access!;
    const one = mk();
    const two = mk().child({ thread: 2 });
    const variants: [Record<string, unknown>, Logger][] = [
      [{}, one],
      [{ remoteAddress: '10.1.2.3' }, one],
      [{ method: 'POST' }, one],
      [{ host: 'b.example' }, one],
      [{ path: '/other' }, one],
      [{ route: '/other/*', track: 'handler' }, one],
      [{ status: 404 }, one],
      [{ header: (n: string) => (n === 'user-agent' ? 'k6/0.50' : undefined) }, one],
      [{ upstream: 'origin' }, one],
      [{}, two],
      [{}, one],
    ];
    for (const [over, logger] of variants) logAccess(logger, exchange(over));
    const parsed = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const base = parsed[0]!;
    expect(parsed[1]).toMatchObject({ peer: '10.1.2.3', client: '10.1.2.3', method: 'GET' });
    expect(parsed[2]).toMatchObject({ peer: '127.0.0.1', method: 'POST', host: base.host });
    expect(parsed[3]).toMatchObject({ method: 'GET', host: 'b.example', path: base.path });
    expect(parsed[4]).toMatchObject({ host: base.host, path: '/other', route: base.route });
    expect(parsed[5]).toMatchObject({ path: base.path, route: '/other/*', track: 'handler', status: 200 });
    expect(parsed[6]).toMatchObject({ route: base.route, track: 'proxy', status: 404 });
    expect(parsed[7]).toMatchObject({ status: 200, user_agent: 'k6/0.50' });
    expect(parsed[7]!.referer).toBeUndefined();
    expect(parsed[8]).toMatchObject({
      upstream: 'origin',
      user_agent: base.user_agent,
      referer: base.referer,
    });
    expect(parsed[9]).toMatchObject({ thread: 2, upstream: base.upstream });
    expect(parsed[10]!.thread).toBeUndefined();
    expect({ ...parsed[10], time: 0, ms: 0 }).toEqual({ ...base, time: 0, ms: 0 });
  });

  it('formats milliseconds as String(Math.round(x * 1000) / 1000) does', () => {
    const samples = [
      0,
      -0,
      0.0004,
      0.0005,
      0.001,
      0.01,
      0.1,
      0.12,
      1.2345,
      999.9995,
      1e6 + 0.5,
      123456.789,
      2 ** 40,
    ];
    for (let i = 0; i < 2000; i++) samples.push(Math.random() * 10 ** (i % 9));
    samples.push(-1.5, Number.NaN, Number.POSITIVE_INFINITY, 1e13, 1e20);
    for (const x of samples)
      expect(millis(x)).toBe(String(Math.round(x * 1000) / 1000).replace(/^NaN$|^-?Infinity$/, 'null'));
  });
});

/**
 * The TCP line protocol, on raw sockets against a real listener running the real fib job:
 * `Result: N\n` / `Error: Invalid number\n`, pipelining in order, many clients, the 1 KiB line
 * limit, a half-close that is answered, and a disconnect that cancels the client's jobs.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { BUILT_ROUTES } from '../helpers/paths.js';
import { lineClient } from '../helpers/raw-client.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { until } from '../helpers/wait.js';

let s: TestServer;
beforeAll(async () => {
  s = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib }
pool: { threads: 1, queue: 64 }
routes_dir: ${BUILT_ROUTES}
`);
});
afterAll(() => s.close());

async function exchange(text: string, lines: number): Promise<string[]> {
  const c = await lineClient(s.tcpPort);
  c.send(text);
  const got = await c.lines(lines);
  c.socket.destroy();
  return got;
}

describe('TCP line protocol', () => {
  it('answers each integer line with Result: N', async () => {
    expect(await exchange('10\n', 1)).toEqual(['Result: 55']);
    expect(await exchange('0\n1\n30\n', 3)).toEqual(['Result: 0', 'Result: 1', 'Result: 832040']);
    expect(await exchange('90\n79\n78\n', 3)).toEqual([
      'Result: 2880067194370816120',
      'Result: 14472334024676221',
      'Result: 8944394323791464',
    ]);
  });

  it('accepts \\r\\n line ends and blanks around the number', async () => {
    expect(await exchange('12\r\n 7\t\r\n+5\n', 3)).toEqual(['Result: 144', 'Result: 13', 'Result: 5']);
  });

  it('answers Error: Invalid number for anything else, and the connection stays usable', async () => {
    const bad = [
      'abc',
      '',
      '1.5',
      '1e3',
      '0x10',
      '12abc',
      '- 1',
      '-1',
      '91',
      '99999999999999999999',
      '\u00e9',
    ];
    const got = await exchange(`${bad.join('\n')}\n20\n`, bad.length + 1);
    expect(got).toEqual([...bad.map(() => 'Error: Invalid number'), 'Result: 6765']);
  });

  it('answers pipelined lines in order, a slow one first', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('33\n1\nx\n2\n');
    expect(await c.lines(4)).toEqual(['Result: 3524578', 'Result: 1', 'Error: Invalid number', 'Result: 1']);
    expect(c.received()).toBe('Result: 3524578\nResult: 1\nError: Invalid number\nResult: 1\n');
    c.socket.destroy();
  });

  it('answers lines split across packets, and many pipelined lines (beyond the per-connection window)', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('2');
    await new Promise((r) => setTimeout(r, 20));
    c.send('5\n');
    expect(await c.lines(1)).toEqual(['Result: 75025']);
    const n = 500;
    let text = '';
    for (let i = 0; i < n; i++) text += `${i % 25}\n`;
    c.send(text);
    const got = await c.lines(n + 1);
    for (let i = 0; i < n; i++) {
      const k = i % 25;
      expect(got[i + 1]).toBe(`Result: ${String(fibRef(k))}`);
    }
    c.socket.destroy();
  });

  it('serves many clients at once', async () => {
    const clients = await Promise.all(Array.from({ length: 20 }, () => lineClient(s.tcpPort)));
    clients.forEach((c, i) => {
      c.send(`${i}\n${i + 10}\nno\n`);
    });
    const answers = await Promise.all(clients.map((c) => c.lines(3)));
    answers.forEach((a, i) => {
      expect(a).toEqual([`Result: ${fibRef(i)}`, `Result: ${fibRef(i + 10)}`, 'Error: Invalid number']);
    });
    for (const c of clients) c.socket.destroy();
  });

  it('a line of exactly 1 KiB is fine; one byte more closes the connection with an error line', async () => {
    const ok = await exchange(`${'0'.repeat(1023)}7\n`, 1);
    expect(ok).toEqual(['Result: 13']);
    const okCr = await exchange(`${' '.repeat(1022)}10\r\n`, 1);
    expect(okCr).toEqual(['Result: 55']);

    const c = await lineClient(s.tcpPort);
    c.send(`1\n${'0'.repeat(1025)}\n2\n`);
    expect(await c.closed).toBe('Result: 1\nError: Line too long\n');
  });

  it('a long line without a newline is refused as soon as it passes 1 KiB', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('3\n');
    c.send('9'.repeat(4000));
    // the connection closes without waiting for the end of the line
    expect(await c.closed).toBe('Result: 2\nError: Line too long\n');
  });

  it('answers earlier lines before the too-long error, even when they are slow', async () => {
    const c = await lineClient(s.tcpPort);
    c.send(`32\n${'x'.repeat(2000)}\n`);
    expect(await c.closed).toBe('Result: 2178309\nError: Line too long\n');
  });

  it('a client that resets cancels its pending jobs: running (worker terminated) and queued', async () => {
    const before = s.pool.stats();
    const p = await pace(() => exchange('1\n', 1));
    const c = await lineClient(s.tcpPort);
    c.send('45\n45\n44\n'); // ~10 s of CPU each: one runs, two wait
    await until(() => s.pool.stats().running === 1 && s.pool.stats().queued === 2, 'the jobs to start');
    const t0 = performance.now();
    c.socket.resetAndDestroy();
    await until(() => s.pool.stats().running + s.pool.stats().queued === 0, 'the jobs to be cancelled');
    expect(performance.now() - t0).toBeLessThan(scaled(200, p, QUIET_PACE_MS.job));
    expect(s.pool.stats().jobs.fib!.cancelled - before.jobs.fib!.cancelled).toBe(3);
    // the pool serves the next client
    expect(await exchange('20\n', 1)).toEqual(['Result: 6765']);
    const line = await until(() => s.access.find((l) => l.track === 'tcp' && l.jobs_cancelled === 3));
    expect(line).toMatchObject({ job: 'fib', lines: 3, jobs: 0, end: 'ECONNRESET' });
  });

  it('a client that closed both sides is noticed when an answer cannot be written: the rest is cancelled', async () => {
    const before = s.pool.stats().jobs.fib!.cancelled;
    const c = await lineClient(s.tcpPort);
    c.send('32\n32\n45\n45\n');
    await until(() => s.pool.stats().running === 1, 'the jobs to start');
    c.socket.destroy(); // a FIN, like a half-close: the first answer draws a reset, the second fails
    await until(() => s.pool.stats().running + s.pool.stats().queued === 0, 'the jobs to be cancelled');
    expect(s.pool.stats().jobs.fib!.cancelled - before).toBe(2);
  });

  it('half-close answers every line received, in order, then closes (printf ... | nc -q 1)', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('30\nabc\n');
    c.socket.end();
    expect(await c.closed).toBe('Result: 832040\nError: Invalid number\n');
    const line = await until(() =>
      s.access.find((l) => l.lines === 2 && l.invalid === 1 && l.bytes_in === 7),
    );
    expect(line).toMatchObject({ lines: 2, jobs: 1, jobs_cancelled: 0, end: 'client-ended' });
  });

  it('half-close answers lines beyond the per-connection window and a last line without its newline', async () => {
    const c = await lineClient(s.tcpPort);
    const n = 100;
    let text = '';
    let want = '';
    const fib = [0, 1];
    for (let i = 2; i < 20; i++) fib.push(fib[i - 1]! + fib[i - 2]!);
    for (let i = 0; i < n; i++) {
      text += `${i % 20}\n`;
      want += `Result: ${fib[i % 20]}\n`;
    }
    c.send(`${text}12`);
    c.socket.end();
    expect(await c.closed).toBe(`${want}Result: 144\n`);
  });

  it('a client that half-closes while a slow job runs still gets its answer', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('32\n');
    await until(() => s.pool.stats().running === 1, 'the job to start');
    c.socket.end();
    expect(await c.closed).toBe('Result: 2178309\n');
  });

  it('logs one line per connection with job counts and timings', async () => {
    const c = await lineClient(s.tcpPort);
    c.send('25\nbad\n26\n');
    await c.lines(3);
    c.socket.destroy();
    const line = await until(() =>
      s.access.find((l) => l.track === 'tcp' && l.bytes_in === 10 && l.lines === 3),
    );
    expect(line).toMatchObject({
      client: '127.0.0.1',
      invalid: 1,
      jobs: 2,
      jobs_failed: 0,
      jobs_cancelled: 0,
    });
    expect(line.job_run_ms as number).toBeGreaterThan(0);
    expect(line.job_wait_ms).toBeTypeOf('number');
    expect(line.bytes_out).toBe('Result: 75025\nError: Invalid number\nResult: 121393\n'.length);
  });
});

describe('TCP line protocol: results that are not numbers', () => {
  it('a string with a line break or an object is one JSON line, so later answers keep their place', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: shapes }
pool: { threads: 1, queue: 8 }
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'routes')}
`);
    try {
      const c = await lineClient(t.tcpPort);
      c.send('1\n2\n3\n4\n7\n');
      expect(await c.lines(5)).toEqual([
        'Result: "a\\nInjected: yes"',
        'Result: {"a":1,"b":"x\\ny"}',
        'Result: undefined',
        'Result: plain text',
        'Result: 7',
      ]);
      c.socket.destroy();
    } finally {
      await t.close();
    }
  });
});

describe('TCP listener shutdown', () => {
  it('close() stops accepting, lets jobs in flight answer, then closes', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib }
pool: { threads: 1 }
routes_dir: ${BUILT_ROUTES}
`);
    const c = await lineClient(t.tcpPort);
    c.send('32\n');
    await until(() => t.pool.stats().running === 1, 'the job to start');
    const closing = t.close(5000);
    expect(await c.closed).toBe('Result: 2178309\n');
    await closing;
    await expect(lineClient(t.tcpPort)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });

  it('after the grace, jobs still running are cancelled, their lines answered, and the connection closed', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib }
pool: { threads: 1 }
routes_dir: ${BUILT_ROUTES}
`);
    const p = await pace(async () => {
      const q = await lineClient(t.tcpPort);
      q.send('1\n');
      await q.lines(1);
      q.socket.destroy();
    });
    const c = await lineClient(t.tcpPort);
    c.send('10\n45\n44\n');
    await until(() => t.pool.stats().running === 1, 'the job to start');
    const t0 = performance.now();
    await t.close(100);
    // the grace, not the job's ≈ 10 s
    expect(performance.now() - t0).toBeLessThan(scaled(1000, p, QUIET_PACE_MS.job));
    expect(await c.closed).toBe('Result: 55\nError: Server shutting down\nError: Server shutting down\n');
  });
});

function fibRef(n: number): string {
  let a = 0n;
  let b = 1n;
  for (let i = 0; i < n; i++) [a, b] = [b, a + b];
  return a.toString();
}

describe('TCP listener start-up', () => {
  it('a port in use is a clear start-up error', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib }
routes_dir: ${BUILT_ROUTES}
`);
    try {
      await expect(
        startServer(`
listen:
  - { host: 127.0.0.1, port: ${t.tcpPort}, kind: tcp, job: fib }
routes_dir: ${BUILT_ROUTES}
`),
      ).rejects.toThrow(`cannot listen on 127.0.0.1:${t.tcpPort} (address in use)`);
    } finally {
      await t.close();
    }
  });
});

describe('TCP listener warm-up', () => {
  it('starts the pool threads when the listener opens, before any client', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib }
routes_dir: ${BUILT_ROUTES}
`);
    try {
      expect(t.pool.stats().threads).toBe(1);
    } finally {
      await t.close();
    }
  });
});

describe('TCP listener limits', () => {
  it('an idle connection is told and closed after `idle`; one with a job in flight is not', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib, idle: 200ms, max_connections: 2 }
routes_dir: ${BUILT_ROUTES}
`);
    try {
      const idle = await lineClient(t.tcpPort);
      const t0 = performance.now();
      expect(await idle.closed).toBe('Error: Idle timeout\n');
      expect(performance.now() - t0).toBeGreaterThanOrEqual(180);

      const busy = await lineClient(t.tcpPort);
      busy.send('37\n'); // ≈ 300 ms of fib, longer than the idle timeout
      expect(await busy.lines(1)).toEqual(['Result: 24157817']);
      busy.socket.destroy();
    } finally {
      await t.close();
    }
  });

  it('a connection whose job outlasted `idle` is still timed out once it goes quiet', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: shapes, idle: 200ms }
pool: { threads: 1 }
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'routes')}
`);
    try {
      const c = await lineClient(t.tcpPort);
      c.send('1000\n'); // sleeps 1 s: the idle timer fires while it runs
      expect(await c.closed).toBe('Result: 1000\nError: Idle timeout\n');
    } finally {
      await t.close();
    }
  });

  it('connections beyond max_connections are closed at once', async () => {
    const t = await startServer(`
listen:
  - { host: 127.0.0.1, port: 0, kind: tcp, job: fib, max_connections: 2 }
routes_dir: ${BUILT_ROUTES}
`);
    try {
      const a = await lineClient(t.tcpPort);
      const b = await lineClient(t.tcpPort);
      const c = await lineClient(t.tcpPort);
      expect(await c.closed).toBe('');
      a.send('10\n');
      expect(await a.lines(1)).toEqual(['Result: 55']);
      a.socket.destroy();
      b.socket.destroy();
    } finally {
      await t.close();
    }
  });
});

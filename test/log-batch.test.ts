import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isoTimeCached, TurnBatch } from '../src/observe/batch.js';
import { createLogs } from '../src/observe/log.js';
import { until } from './helpers/wait.js';

describe('access-log lines batched per event-loop turn', () => {
  it('hands the lines of one turn to the destination as one write, in order', async () => {
    const writes: string[] = [];
    const batch = new TurnBatch({ write: (s: string) => writes.push(s) });
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

  it('writes every line to an access-log file, and flush() at shutdown loses none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-batch-'));
    const file = join(dir, 'logs', 'access.log');
    const logs = createLogs({ level: 'warn', access: file, error: 'stderr' });
    const read = () =>
      existsSync(file)
        ? readFileSync(file, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => JSON.parse(l) as { i: number; time: string })
        : [];
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

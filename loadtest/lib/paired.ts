/**
 * Paired windows: two servers loaded at the same time, each by its own wrk, for the same window;
 * each window gives the ratio of their CPU per request (server process tree's utime + stime from
 * /proc ÷ requests served). Whatever else the machine does — neighbours' work, the CPU clock, the
 * origin's state — falls on both alike, and both run in the same regime: two servers sharing the
 * machine, neither alone with a client that waits on it. That second point matters: in a closed
 * loop (wrk's fixed connections) a faster server keeps its client busier, and the kernel's work
 * per request (waking the client, one epoll round per fewer requests) shrinks with it, so
 * alternating rounds widen a CPU-per-request difference beyond what each server's own code costs.
 * User-space and kernel time are kept apart too: a slower server pays more kernel time per
 * request waking its load generator. Used by `npm run bench:ab` and the bench's "Paired CPU
 * ratios" section.
 */
import os from 'node:os';
import type { Running } from '../contenders/index.js';
import { type LoadTool, runLoad } from './load.js';
import { cpuSplitUs } from './proc.js';
import type { PairDef } from './scenarios.js';
import { median } from './stats.js';

export interface PairedOptions {
  path: string;
  connections: number;
  rounds: number;
  durationSec: number;
  warmupSec: number;
  tmp: string;
  /** called after each window (progress output) */
  onWindow?: (w: PairedWindow, i: number) => void;
}

export interface PairedWindow {
  /** CPU µs per request of a and of b, and their user-space and kernel parts */
  cpuA: number;
  cpuB: number;
  userA: number;
  userB: number;
  sysA: number;
  sysB: number;
  rpsA: number;
  rpsB: number;
  ratio: number;
  load: number;
}

export interface PairedResult {
  windows: PairedWindow[];
  /** median and quartiles of a ÷ b over the windows (undefined when no window counted) */
  median?: number;
  q1?: number;
  q3?: number;
  cpuA?: number;
  cpuB?: number;
  /** medians of a ÷ b for user-space and kernel time alone */
  userRatio?: number;
  sysRatio?: number;
}

export async function pairedWindows(
  tool: LoadTool,
  a: Running,
  b: Running,
  o: PairedOptions,
): Promise<PairedResult> {
  const spec = (s: Running, d: number) => ({
    url: `http://127.0.0.1:${s.port}${o.path}`,
    connections: o.connections,
    threads: 1,
    durationSec: d,
    method: 'GET' as const,
  });
  if (o.warmupSec > 0)
    await Promise.all([
      runLoad(tool, spec(a, o.warmupSec), o.tmp),
      runLoad(tool, spec(b, o.warmupSec), o.tmp),
    ]);
  const windows: PairedWindow[] = [];
  for (let i = 0; i < o.rounds; i++) {
    const a0 = cpuSplitUs(a.pid);
    const b0 = cpuSplitUs(b.pid);
    const [ra, rb] = await Promise.all([
      runLoad(tool, spec(a, o.durationSec), o.tmp),
      runLoad(tool, spec(b, o.durationSec), o.tmp),
    ]);
    if (ra.requests === 0 || rb.requests === 0) continue;
    const a1 = cpuSplitUs(a.pid);
    const b1 = cpuSplitUs(b.pid);
    const userA = (a1.user - a0.user) / ra.requests;
    const sysA = (a1.sys - a0.sys) / ra.requests;
    const userB = (b1.user - b0.user) / rb.requests;
    const sysB = (b1.sys - b0.sys) / rb.requests;
    const cpuA = userA + sysA;
    const cpuB = userB + sysB;
    const w: PairedWindow = {
      cpuA,
      cpuB,
      userA,
      userB,
      sysA,
      sysB,
      rpsA: ra.rps,
      rpsB: rb.rps,
      ratio: cpuA / cpuB,
      load: os.loadavg()[0]!,
    };
    windows.push(w);
    o.onWindow?.(w, i);
  }
  if (windows.length === 0) return { windows };
  const sorted = windows.map((w) => w.ratio).sort((x, y) => x - y);
  const q = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
  return {
    windows,
    median: median(sorted),
    q1: q(0.25),
    q3: q(0.75),
    cpuA: median(windows.map((w) => w.cpuA)),
    cpuB: median(windows.map((w) => w.cpuB)),
    userRatio: median(windows.map((w) => w.userA / w.userB)),
    sysRatio: median(windows.map((w) => w.sysA / w.sysB)),
  };
}

/** One pair's outcome in the bench report. */
export interface PairedRow extends PairDef, PairedResult {
  windowsCounted: number;
}

/** The paired ratio of a ÷ b on `path`, when that pair was measured. */
export function pairedRatio(rows: PairedRow[], a: string, b: string, path: string): number | undefined {
  return rows.find((r) => r.a === a && r.b === b && r.path === path)?.median;
}

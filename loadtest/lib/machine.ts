/** What the results were measured on: named in every results file and table. */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { run } from './proc.js';
import { versionOf } from './tools.js';

export interface Machine {
  hostname: string;
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  nginx: string | null;
  loadTool: string;
  commit: string | null;
}

export async function describeMachine(
  root: string,
  nginxBin: string | null,
  loadTool: string,
): Promise<Machine> {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown';
  try {
    const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
    if (m) cpuModel = m[1]!.trim();
  } catch {}
  const git = await run('git', ['rev-parse', '--short', 'HEAD'], 5000, { cwd: root });
  return {
    hostname: os.hostname(),
    date: new Date().toISOString(),
    cpuModel,
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    kernel: `${os.type()} ${os.release()}`,
    node: process.version,
    nginx: nginxBin ? (await versionOf(nginxBin, ['-v'])).replace(/^nginx version:\s*/, '') : null,
    loadTool,
    commit: git.code === 0 ? git.stdout.trim() : null,
  };
}

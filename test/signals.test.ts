/**
 * Signals the server must own. SIGUSR1: Node's default opens the inspector on 127.0.0.1:9229
 * (code execution for any local user); logrotate's usual `postrotate` sends it to web servers.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Cli, runCli, startCli } from './helpers/cli.js';

let cli: Cli & { ports: number[] };

beforeAll(async () => {
  cli = await startCli(`
listen: [{ host: 127.0.0.1, port: 0 }]
log: { level: info, access: off }
routes:
  - { path: /ok, respond: { body: "ok\\n" } }
`);
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
});

/** Ports of the listening TCP sockets this process holds (from /proc: no other process counts). */
function listeningPorts(pid: number): number[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m) inodes.add(m[1]!);
    } catch {
      // closed meanwhile
    }
  }
  const ports: number[] = [];
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      // local_address is f[1] (ADDR:PORT in hex), st is f[3] (0A = LISTEN), inode is f[9]
      if (f.length > 9 && f[3] === '0A' && inodes.has(f[9]!))
        ports.push(Number.parseInt(f[1]!.split(':')[1]!, 16));
    }
  }
  return ports;
}

describe('SIGUSR1', () => {
  it('is logged, opens no inspector (nothing on 9229), and the server still answers', async () => {
    const pid = cli.child.pid!;
    const before = listeningPorts(pid);
    expect(before).toContain(cli.ports[0]);
    cli.kill('SIGUSR1');
    await cli.waitFor(/log files reopened/);
    // Node writes "Debugger listening on ws://127.0.0.1:9229/…" when the inspector opens
    expect(cli.stderr()).not.toMatch(/Debugger listening/);
    expect(listeningPorts(pid)).not.toContain(9229);
    expect(listeningPorts(pid).sort()).toEqual(before.sort());
    const res = await fetch(`http://127.0.0.1:${cli.ports[0]}/ok`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('ok\n');
    expect(cli.child.exitCode).toBeNull();
  });
});

describe('a stop signal while starting', () => {
  it('is held until the server is up, then drains: exit 0 and no pid file left, not death by TERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'switchyard-sig-'));
    // a handler whose import takes a while: TERM is sent while start is importing it
    writeFileSync(
      join(dir, 'slowload.js'),
      'process.stderr.write("slowload: importing\\n");\nawait new Promise((r) => setTimeout(r, 300));\nexport default () => ({ status: 200, body: "ok" });\n',
    );
    const file = join(dir, 'c.yaml');
    writeFileSync(
      file,
      `listen: [{ host: 127.0.0.1, port: 0 }]\nroutes_dir: ${dir}\npid: sy.pid\nroutes: [{ path: /a, handler: slowload }]\n`,
    );
    const c = runCli(['start', '-c', file]);
    await c.waitFor(/slowload: importing/);
    c.kill('SIGTERM');
    expect(await c.exited).toBe(0);
    expect(c.stderr()).toMatch(/"signal":"SIGTERM","msg":"draining"/);
    expect(existsSync(join(dir, 'sy.pid'))).toBe(false);
  });
});

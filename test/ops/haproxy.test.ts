/**
 * A rolling stop behind a real balancer: two instances of the built CLI behind HAProxy (Debian's
 * package, installed by .ci/run), health-checked on the readiness probe. SIGTERM to one during
 * steady load: its readiness fails at once, it serves on for `shutdown.delay` while HAProxy takes
 * it out, then drains and exits 0. Not one request fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Pool } from 'undici';
import { describe, expect, it } from 'vitest';
import { freePort, runCli } from '../helpers/cli.js';

const HAPROXY = ['/usr/sbin/haproxy', '/usr/bin/haproxy'].find((p) => existsSync(p));

function instanceConfig(dir: string, name: string, port: number): string {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(
    file,
    `listen: [{ host: 127.0.0.1, port: ${port} }]
log: { level: info, access: off }
probes: { readiness: /readyz, liveness: /livez }
shutdown: { delay: 1500ms, grace: 5s }
routes:
  - { path: /who, respond: { body: "${name}" } }
`,
  );
  return file;
}

describe.skipIf(HAPROXY === undefined)('behind HAProxy', () => {
  it('SIGTERM to one of two instances under steady load loses zero requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sy-haproxy-'));
    const [pa, pb, front] = [await freePort(), await freePort(), await freePort()];
    const a = runCli(['start', '-c', instanceConfig(dir, 'a', pa)]);
    const b = runCli(['start', '-c', instanceConfig(dir, 'b', pb)]);
    await Promise.all([a.waitFor(/listening on/), b.waitFor(/listening on/)]);
    const cfg = join(dir, 'haproxy.cfg');
    writeFileSync(
      cfg,
      `global
  maxconn 512
defaults
  mode http
  timeout connect 1s
  timeout client 10s
  timeout server 10s
  retries 3
  option redispatch
frontend fe
  bind 127.0.0.1:${front}
  default_backend be
backend be
  balance roundrobin
  option httpchk
  http-check send meth GET uri /readyz ver HTTP/1.1 hdr host localhost
  http-check expect status 200
  server a 127.0.0.1:${pa} check inter 200ms fall 1 rise 1
  server b 127.0.0.1:${pb} check inter 200ms fall 1 rise 1
`,
    );
    const hap = spawn(HAPROXY!, ['-f', cfg, '-db'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let hapOut = '';
    hap.stdout.on('data', (c) => (hapOut += c));
    hap.stderr.on('data', (c) => (hapOut += c));
    const pool = new Pool(`http://127.0.0.1:${front}`, { connections: 8 });
    try {
      // Both instances are in rotation.
      const seen = new Set<string>();
      const until = Date.now() + 10_000;
      while (seen.size < 2) {
        if (Date.now() > until) throw new Error(`HAProxy never served both: ${hapOut}`);
        try {
          const r = await pool.request({ path: '/who', method: 'GET' });
          seen.add(await r.body.text());
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      const served = { a: 0, b: 0 };
      const failures: string[] = [];
      let stop = false;
      const worker = async () => {
        while (!stop) {
          try {
            const r = await pool.request({ path: '/who', method: 'GET' });
            const t = await r.body.text();
            if (r.statusCode !== 200) failures.push(`${r.statusCode} ${t}`);
            else served[t as 'a' | 'b']++;
          } catch (err) {
            failures.push((err as Error).message);
          }
        }
      };
      const workers = Array.from({ length: 6 }, worker);
      await new Promise((r) => setTimeout(r, 500));
      const aBefore = served.a;
      a.kill('SIGTERM');
      const code = await a.exited; // delay (1.5 s) + drain
      await new Promise((r) => setTimeout(r, 300));
      stop = true;
      await Promise.all(workers);
      expect(failures.slice(0, 5)).toEqual([]);
      expect(code).toBe(0);
      expect(aBefore).toBeGreaterThan(0);
      expect(served.b).toBeGreaterThan(served.a);
      expect(a.stderr()).toMatch(/readiness failing; serving on until the drain/);
    } finally {
      await pool.close();
      hap.kill('SIGTERM');
      a.kill('SIGKILL');
      b.kill('SIGTERM');
      await b.exited;
    }
  });
});

/**
 * A refusal that Switchyard writes reaches the client (RFC 9112 §9.6: a close with unread bytes
 * can turn into a reset that destroys the answer). Each try refuses a request with a body still
 * coming (414: a 9 KB target, then 256 KiB of body); the access log says which refusals were
 * written (`status` is set only then), and every one of those must have arrived. A ratio, not a
 * time: under load uWS may close a head itself before Switchyard sees it (no access line), which
 * is a different, documented gap.
 */
import net from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type StartedCli, startCli } from './helpers/cli.js';
import { until } from './helpers/wait.js';

let cli: StartedCli;

beforeAll(async () => {
  cli = await startCli(`
log: { level: info, access: stdout }
routes:
  - { path: "/*", respond: { body: "x" } }
`);
});

afterAll(async () => {
  await cli?.stop();
});

const TRIES = 50;
const BODY = 256 * 1024;

/** One refused upload; resolves with the status the client read (0 if none) and how it ended. */
function tryOnce(id: string): Promise<{ status: number; reset: boolean }> {
  return new Promise((resolve) => {
    const s = net.connect(cli.port, '127.0.0.1');
    let got = '';
    let reset = false;
    s.on('data', (d: Buffer) => {
      got += d.toString('latin1');
    });
    s.on('error', () => {
      reset = true;
    });
    s.on('close', () => resolve({ status: Number(got.slice(9, 12)) || 0, reset }));
    s.on('connect', () => {
      s.write(
        `POST /${'p'.repeat(9000)} HTTP/1.1\r\nHost: a\r\nX-Request-Id: ${id}\r\nContent-Length: ${BODY}\r\n\r\n`,
      );
      s.write(Buffer.alloc(BODY, 0x62));
    });
    setTimeout(() => s.destroy(), 5000);
  });
}

it(`a written 414 reaches the client (${TRIES} uploads refused mid-body)`, async () => {
  const results = [];
  for (let i = 0; i < TRIES; i++) results.push(await tryOnce(`rd-${i}`));
  const received = results.filter((r) => r.status === 414).length;
  // every answer the client read has its access line (written before the close)
  const lines = await until(
    () => {
      const l = cli.accessLog().filter((x) => String(x.id).startsWith('rd-'));
      return l.length >= received ? l : undefined;
    },
    5000,
    'the access lines',
  );
  const written = lines.filter((l) => l.status === 414).length;
  expect(written).toBeGreaterThan(0);
  expect(received / written, `${received} of ${written} written refusals received`).toBeGreaterThanOrEqual(
    0.96,
  );
});

/**
 * Opens many keep-alive connections and leaves them idle, for the memory-per-connection scenario.
 * Each connection sends one `GET path`, reads the whole answer and then stays open.
 *
 * Protocol with the bench (stdout lines):
 *   IDLE_READY {"opened":N,"failed":N,"errors":{…}}   once every connection was tried
 *   IDLE_COUNT {"open":N,"closedByServer":N}          in answer to a "count" line on stdin
 * The client exits when stdin closes, or after --max-seconds in any case.
 *
 * Usage: node dist/loadtest/idle-client.js --port N --count N [--path /small] [--concurrency 200]
 *        [--max-seconds 120]
 */
import net from 'node:net';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    count: { type: 'string' },
    path: { type: 'string', default: '/small' },
    concurrency: { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '120' },
  },
});
const port = Number(values.port);
const count = Number(values.count);
const concurrency = Number(values.concurrency);
const path = values.path!;

const open = new Set<net.Socket>();
let opened = 0;
let failed = 0;
let closedByServer = 0;
const errors: Record<string, number> = {};

setTimeout(() => process.exit(0), Number(values['max-seconds']) * 1000);

function openOne(): Promise<void> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let buf = '';
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      failed++;
      errors[why] = (errors[why] ?? 0) + 1;
      sock.destroy();
      resolve();
    };
    sock.setTimeout(10_000, () => fail('timeout'));
    sock.once('connect', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`));
    sock.on('data', (chunk: Buffer) => {
      if (done) return;
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = buf.slice(0, end);
      const len = /\r\ncontent-length:\s*(\d+)/i.exec(head);
      const complete = len
        ? buf.length >= end + 4 + Number(len[1])
        : /\r\ntransfer-encoding:\s*chunked/i.test(head)
          ? buf.endsWith('0\r\n\r\n')
          : true;
      if (!complete) return;
      done = true;
      opened++;
      buf = '';
      sock.setTimeout(0);
      open.add(sock);
      resolve();
    });
    sock.on('error', (err: NodeJS.ErrnoException) => fail(err.code ?? err.message));
    sock.on('close', () => {
      if (!done) fail('closed before answering');
      else if (open.delete(sock)) closedByServer++;
    });
  });
}

async function worker(): Promise<void> {
  while (opened + failed + inFlight < count) {
    inFlight++;
    await openOne();
    inFlight--;
  }
}
let inFlight = 0;

await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
process.stdout.write(`IDLE_READY ${JSON.stringify({ opened, failed, errors })}\n`);

let pending = '';
process.stdin.on('data', (chunk: Buffer) => {
  pending += chunk.toString();
  let nl = pending.indexOf('\n');
  while (nl >= 0) {
    const line = pending.slice(0, nl).trim();
    pending = pending.slice(nl + 1);
    if (line === 'count')
      process.stdout.write(`IDLE_COUNT ${JSON.stringify({ open: open.size, closedByServer })}\n`);
    nl = pending.indexOf('\n');
  }
});
process.stdin.on('end', () => {
  for (const s of open) s.destroy();
  process.exit(0);
});

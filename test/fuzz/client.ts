/**
 * The fuzzer's client: one fresh connection per request, the bytes written at once or in a few
 * segments, and an outcome once the first response is complete, the server closes, or nothing
 * more arrives for a while (many mutated requests are never answered: uWS waits for the rest of
 * a head, or closes after its ≈ 10 s timer — we do not wait for that). Connections are ended with
 * a RST so that 100,000 of them leave no TIME_WAIT behind on the client's ports.
 */
import net from 'node:net';
import type { Rand } from './prng.js';

export interface Outcome {
  /**
   * `status NNN` (`status NNN (incomplete)` when its body stopped short and the server went
   * quiet), `closed` / `reset` (no bytes), `silent`, or `garbled` (not an HTTP/1.1 response)
   */
  kind: string;
  status: number;
  /** the first bytes received (for examples) */
  head: string;
}

const STATUS = /^HTTP\/1\.1 ([1-5]\d\d) /;

/** Is the first response in `buf` complete (Content-Length met, chunked terminator, or no body)? */
function complete(buf: string, status: number, isHead: boolean): boolean {
  const end = buf.indexOf('\r\n\r\n');
  if (end === -1) return false;
  if (isHead || status === 204 || status === 304) return true;
  const head = buf.slice(0, end).toLowerCase();
  const cl = /\r\ncontent-length: *(\d+)/.exec(head);
  if (cl) return buf.length - end - 4 >= Number(cl[1]);
  if (head.includes('\r\ntransfer-encoding: chunked')) return buf.includes('\r\n0\r\n\r\n', end);
  return false;
}

export function send(port: number, bytes: string, r: Rand, silenceMs: number): Promise<Outcome> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    let buf = '';
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const isHead = bytes.startsWith('HEAD ');
    // a response can be huge (`/stream?bytes=4294967296`): the first bytes tell all we need
    const deadline = setTimeout(() => done('slow'), Math.max(5000, 2 * silenceMs));
    const done = (kind: string) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      clearTimeout(deadline);
      const m = STATUS.exec(buf);
      if (buf.length > 0 && m === null && buf.length >= 13) kind = 'garbled';
      else if (m !== null) kind = `status ${m[1]}${kind === 'partial' ? ' (incomplete)' : ''}`;
      // (a RST needs a connection: one still connecting is just dropped)
      if (!s.destroyed) s.connecting ? s.destroy() : s.resetAndDestroy();
      resolve({ kind, status: m === null ? 0 : Number(m[1]), head: buf.slice(0, 200) });
    };
    const arm = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(() => done(buf.length === 0 ? 'silent' : 'partial'), ms);
    };
    let received = 0;
    s.on('close', () => clearTimeout(deadline));
    s.on('data', (d: Buffer) => {
      received += d.length;
      if (received > 256 * 1024) {
        clearTimeout(deadline);
        return done('large');
      }
      if (buf.length < 64 * 1024) buf += d.toString('latin1');
      // interim responses (100 Continue) come before the one we are after
      while (/^HTTP\/1\.1 1\d\d [^\r]*\r\n\r\n/.test(buf)) buf = buf.slice(buf.indexOf('\r\n\r\n') + 4);
      const m = STATUS.exec(buf);
      if (m !== null && complete(buf, Number(m[1]), isHead)) return done('status');
      if (buf.length >= 13 && m === null) return done('garbled');
      arm(50);
    });
    s.on('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNRESET' ? 'reset' : `error ${e.code}`));
    s.on('close', () => done('closed'));
    // a server that stops accepting shows up as connections that never open
    timer = setTimeout(() => done('connect timeout'), Math.max(2000, silenceMs));
    s.once('connect', () => {
      if (r.chance(0.2) && bytes.length > 2) {
        // in two or three segments, a moment apart: the parser sees partial heads
        const cuts = [r.int(bytes.length), r.int(bytes.length)].sort((a, b) => a - b);
        const parts = [bytes.slice(0, cuts[0]), bytes.slice(cuts[0], cuts[1]), bytes.slice(cuts[1])].filter(
          (p) => p.length > 0,
        );
        let k = 0;
        const next = () => {
          if (settled || s.destroyed) return;
          s.write(parts[k++]!, 'latin1');
          if (k < parts.length) setTimeout(next, 1);
        };
        next();
      } else {
        s.write(bytes, 'latin1');
      }
      arm(silenceMs);
    });
  });
}

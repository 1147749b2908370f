/**
 * PROXY protocol bytes for the tests of the uws engine, the node engine and acceptor threads
 * (test/ops/proxy-protocol.test.ts, test/ops/proxy-protocol-node.test.ts,
 * test/ops/proxy-protocol-threads.test.ts), and one raw exchange that sends them with a request on
 * a fresh connection.
 */
import { connect } from 'node:net';

const SIG = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);

/**
 * A PROXY v2 header: PROXY (or LOCAL) over TCP/IPv4, or TCP/IPv6 (`src` written out in full), from
 * `src`:`sport` (default 40000) to 10.0.0.1:80 (IPv6: ::1).
 */
export function v2(src: string, opts: { local?: boolean; sport?: number } = {}): Buffer {
  const six = src.includes(':');
  const ip = (a: string) =>
    six
      ? Buffer.from(a.split(':').flatMap((g) => [Number.parseInt(g, 16) >> 8, Number.parseInt(g, 16) & 255]))
      : Buffer.from(a.split('.').map(Number));
  const dst = six ? '0:0:0:0:0:0:0:1' : '10.0.0.1';
  const sport = opts.sport ?? 40000;
  const addr = Buffer.concat([ip(src), ip(dst), Buffer.from([sport >> 8, sport & 255, 0, 80])]);
  return Buffer.concat([
    SIG,
    Buffer.from([opts.local ? 0x20 : 0x21, six ? 0x21 : 0x11, 0, addr.length]),
    addr,
  ]);
}

/** A PROXY v1 header over TCP4 from `src`:40000 to 10.0.0.1:80. */
export const v1 = (src: string) => Buffer.from(`PROXY TCP4 ${src} 10.0.0.1 40000 80\r\n`);

export const GET = (path: string) => Buffer.from(`GET ${path} HTTP/1.1\r\nHost: x\r\n\r\n`);

/**
 * Send `parts` on a fresh connection, 30 ms apart; resolve with what came back once the server
 * closes, or once it has said something and then stayed quiet for 300 ms (or after 5 s of nothing).
 */
export function exchange(port: number, ...parts: Buffer[]): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let text = '';
    let t: NodeJS.Timeout | undefined;
    const done = (closed: boolean) => {
      clearTimeout(t);
      s.destroy();
      resolve({ text, closed });
    };
    s.on('data', (d) => {
      text += d.toString('latin1');
      clearTimeout(t);
      t = setTimeout(() => done(false), 300);
    });
    s.on('close', () => done(true));
    s.on('error', () => done(true));
    void (async () => {
      for (const p of parts) {
        s.write(p);
        await new Promise((r) => setTimeout(r, 30));
      }
    })();
    t = setTimeout(() => done(false), 5000);
  });
}

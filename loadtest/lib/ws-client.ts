/**
 * A minimal WebSocket client for the load generator (loadtest/websocket.ts), cheap enough that
 * one Node process can drive thousands of connections: a raw TCP socket, a fixed handshake, client
 * frames with an all-zero mask (valid per RFC 6455 §5.3: the payload goes out as is, no XOR
 * work), and a parser for the server's unmasked frames that hands each complete message to
 * `onMessage`. Control frames are dropped, except a close, which ends the connection. Product
 * code uses the `ws` library; this is only the bench's load generator.
 */
import net from 'node:net';

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';

export interface RawWs {
  readonly socket: net.Socket;
  /** Send one text message. */
  send(text: string | Buffer): void;
  /** Called with each complete data message (text or binary payload). */
  onMessage: (payload: Buffer) => void;
  /** Bytes of frames received since the handshake. */
  received: number;
  close(): void;
}

/** One masked (zero mask) text frame. */
export function frame(payload: Buffer): Buffer {
  const n = payload.length;
  const head = n < 126 ? 6 : n < 65536 ? 8 : 14;
  const out = Buffer.alloc(head + n);
  out[0] = 0x81;
  if (n < 126) out[1] = 0x80 | n;
  else if (n < 65536) {
    out[1] = 0x80 | 126;
    out.writeUInt16BE(n, 2);
  } else {
    out[1] = 0x80 | 127;
    out.writeBigUInt64BE(BigInt(n), 2);
  }
  // the 4 mask bytes stay 0
  payload.copy(out, head);
  return out;
}

/** Connect and complete the handshake for `path`; rejects on anything but 101. */
export function connectWs(port: number, path: string, timeoutMs = 30_000): Promise<RawWs> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host: '127.0.0.1', port, noDelay: true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`handshake to ${path} timed out`));
    }, timeoutMs);
    let head = Buffer.alloc(0);
    let buf: Buffer = Buffer.alloc(0);
    const ws: RawWs = {
      socket,
      received: 0,
      onMessage: () => {},
      send(text) {
        socket.write(frame(typeof text === 'string' ? Buffer.from(text) : text));
      },
      close() {
        socket.destroy();
      },
    };
    const parse = (chunk: Buffer) => {
      ws.received += chunk.length;
      buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
      let off = 0;
      for (;;) {
        if (buf.length - off < 2) break;
        const op = buf[off]! & 0x0f;
        let len = buf[off + 1]! & 0x7f;
        let at = off + 2;
        if (len === 126) {
          if (buf.length - off < 4) break;
          len = buf.readUInt16BE(off + 2);
          at = off + 4;
        } else if (len === 127) {
          if (buf.length - off < 10) break;
          len = Number(buf.readBigUInt64BE(off + 2));
          at = off + 10;
        }
        if (buf.length < at + len) break;
        if (op === 1 || op === 2) ws.onMessage(buf.subarray(at, at + len));
        else if (op === 8) socket.destroy();
        off = at + len;
      }
      buf = off === buf.length ? Buffer.alloc(0) : buf.subarray(off);
    };
    socket.once('connect', () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
          `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      ),
    );
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    const onHead = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      clearTimeout(timer);
      socket.off('data', onHead);
      const status = head.toString('latin1', 0, head.indexOf('\r\n'));
      if (!status.startsWith('HTTP/1.1 101')) {
        socket.destroy();
        reject(new Error(`${path}: ${status}`));
        return;
      }
      socket.on('data', parse);
      resolve(ws);
      const rest = head.subarray(end + 4);
      if (rest.length > 0) parse(rest);
    };
    socket.on('data', onHead);
  });
}

/** Open `n` connections (connection i to `path(i)`), at most `parallel` handshakes at a time. */
export async function connectMany(
  port: number,
  path: string | ((i: number) => string),
  n: number,
  parallel = 200,
): Promise<RawWs[]> {
  const out: RawWs[] = [];
  let next = 0;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      out[i] = await connectWs(port, typeof path === 'string' ? path : path(i));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, n) }, worker));
  return out;
}

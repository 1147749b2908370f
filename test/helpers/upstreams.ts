/**
 * Real upstreams for proxy tests: node:http servers, and raw TCP servers whose every byte the test
 * scripts (for faults). Each counts its requests and tracks its sockets. For a strict recording of
 * what a proxy forwarded, see recording-upstream.ts.
 */
import http from 'node:http';
import net from 'node:net';

export interface Upstream {
  port: number;
  url: string;
  /** requests received (counted when the head arrived) */
  hits: number;
  /** open sockets, and the time each closed */
  sockets: Set<net.Socket>;
  closedAt: number[];
  close(): Promise<void>;
}

function track(server: net.Server, u: Upstream): void {
  server.on('connection', (s: net.Socket) => {
    u.sockets.add(s);
    s.on('close', () => {
      u.sockets.delete(s);
      u.closedAt.push(performance.now());
    });
  });
}

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as net.AddressInfo).port;
}

/** A node:http upstream. The handler sees every request; `hits` counts them. */
export async function httpUpstream(
  handler: (req: http.IncomingMessage, res: http.ServerResponse, u: Upstream) => void,
): Promise<Upstream & { server: http.Server }> {
  const server = http.createServer();
  const u = {
    port: 0,
    url: '',
    hits: 0,
    sockets: new Set<net.Socket>(),
    closedAt: [] as number[],
    server,
    async close() {
      for (const s of u.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(server, u);
  server.on('request', (req, res) => {
    u.hits++;
    handler(req, res, u);
  });
  u.port = await listen(server);
  u.url = `http://127.0.0.1:${u.port}`;
  return u;
}

/** An upstream that answers every request with `name` (and echoes what it got in headers). */
export function namedUpstream(name: string, delayMs = 0): Promise<Upstream & { server: http.Server }> {
  return httpUpstream((req, res) => {
    req.resume();
    req.on('end', () => {
      const send = () => {
        res.setHeader('x-upstream', name);
        res.end(name);
      };
      if (delayMs > 0) setTimeout(send, delayMs);
      else send();
    });
  });
}

/**
 * A raw TCP upstream: `onRequest` gets the socket and the request head (as text) of every request
 * on it, the index of that request on the connection (0 for the first), and its Content-Length body.
 */
export async function rawUpstream(
  onRequest: (socket: net.Socket, head: string, n: number, u: Upstream, body: string) => void,
): Promise<Upstream> {
  const server = net.createServer();
  const u: Upstream = {
    port: 0,
    url: '',
    hits: 0,
    sockets: new Set(),
    closedAt: [],
    async close() {
      for (const s of u.sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
  track(server, u);
  server.on('connection', (socket) => {
    let buf = '';
    let n = 0;
    socket.on('error', () => {});
    socket.on('data', (d) => {
      buf += d.toString('latin1');
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end === -1) break;
        const head = buf.slice(0, end);
        // Bodies in these tests are small and sent with Content-Length, in one read with the head.
        const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
        const length = cl ? Number(cl[1]) : 0;
        const body = buf.slice(end + 4, end + 4 + length);
        buf = buf.slice(end + 4 + length);
        u.hits++;
        onRequest(socket, head, n++, u, body);
      }
    });
  });
  u.port = await listen(server);
  u.url = `http://127.0.0.1:${u.port}`;
  return u;
}

/** A port nothing listens on (connection refused). */
export async function refusedPort(): Promise<number> {
  const s = net.createServer();
  const port = await listen(s);
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

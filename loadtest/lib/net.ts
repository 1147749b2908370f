/** Loopback networking helpers: free ports, one-off HTTP requests, readiness polling. */
import http from 'node:http';
import net from 'node:net';
import type { Spawned } from './proc.js';
import { sleep } from './proc.js';

export const HOST = '127.0.0.1';

/**
 * A port that was free a moment ago. The bench hands ports to children that cannot report the one
 * they bound (nginx), so there is a small race with other programs; on loopback it is harmless.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface Answer {
  status: number;
  body: Buffer;
}

/** One request on a fresh connection; rejects on error or after `timeoutMs`. */
export function request(
  port: number,
  method: string,
  path: string,
  body?: Buffer,
  timeoutMs = 5000,
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: http.OutgoingHttpHeaders = {};
    if (body) {
      headers['content-type'] = 'application/octet-stream';
      headers['content-length'] = body.length;
    }
    const req = http.request({ host: HOST, port, method, path, headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new Error(`no answer in ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

function connects(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: HOST, port });
    sock.setTimeout(500, () => sock.destroy());
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
    sock.once('close', () => resolve(false));
  });
}

/**
 * Waits until `port` accepts a TCP connection and answers `GET path` with any HTTP status.
 * Rejects with the child's output if it exits first or `timeoutMs` passes.
 */
export async function waitReady(proc: Spawned, port: number, path: string, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  let last = 'no connection yet';
  while (Date.now() < until) {
    const ended = proc.ended();
    if (ended !== null) throw new Error(`exited (${ended}) before listening`);
    if (await connects(port)) {
      try {
        await request(port, 'GET', path, undefined, 2000);
        return;
      } catch (err) {
        last = `GET ${path}: ${(err as Error).message}`;
      }
    }
    await sleep(100);
  }
  throw new Error(`not ready after ${timeoutMs} ms (${last})`);
}

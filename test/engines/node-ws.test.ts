/**
 * What is the node engine's own about WebSockets (the routes, limits and proxying themselves run on
 * both engines: test/websocket/, second vitest project): wss:// over a TLS listener (HTTP/1.1 by
 * ALPN beside HTTP/2), HTTP/2 having no Upgrade (the route answers as plain HTTP), a handshake
 * `ws` would refuse answered before the route's work runs, and an Upgrade that is not a WebSocket
 * one answered as an ordinary request.
 */
import { mkdtempSync } from 'node:fs';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { selfSigned } from '../../loadtest/lib/certs.js';
import { packageRoot } from '../../src/config/load.js';
import { type Cli, startCli } from '../helpers/cli.js';
import { RawClient, values } from '../helpers/raw-client.js';

const fixtures = join(packageRoot, 'test', 'fixtures', 'handlers');
let cli: Cli & { ports: number[] };
let tlsPort: number;
let plainPort: number;
/** node:http's `shouldUpgradeCallback` (Node 22.23+, 24): only WebSocket upgrades leave the parser */
const perRequestUpgrade = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 23);
})();

beforeAll(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sy-node-ws-'));
  const { cert, key } = selfSigned(dir, 'ws', '/CN=localhost');
  cli = await startCli(`
listen:
  - { host: 127.0.0.1, port: 0, engine: node, tls: { cert: ${cert}, key: ${key} } }
  - { host: 127.0.0.1, port: 0, engine: node }
log: { level: info, access: stdout }
routes_dir: ${fixtures}
routes:
  - { path: /ws, websocket: ws-echo }
  - { path: /sync, respond: { body: "sync\\n" } }
`);
  [tlsPort, plainPort] = cli.ports as [number, number];
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
});

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const upgrade = (path: string, extra = '') =>
  `GET ${path} HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n${extra}\r\n`;

describe('node engine: WebSockets', () => {
  it('wss:// on a TLS listener (HTTP/1.1 by ALPN, beside HTTP/2): open, echo, close', async () => {
    const ws = new WebSocket(`wss://127.0.0.1:${tlsPort}/ws?who=tls`, { rejectUnauthorized: false });
    const messages: string[] = [];
    ws.on('message', (d: Buffer) => messages.push(d.toString()));
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    ws.send('over tls');
    await new Promise<void>((resolve) => ws.on('message', () => messages.length === 2 && resolve()));
    expect(messages).toEqual(['hello tls from 127.0.0.1', 'over tls']);
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    ws.close(1000);
    expect(await closed).toBe(1000);
  });

  it('HTTP/2 has no Upgrade: the WebSocket route answers the request as plain HTTP (426)', async () => {
    const session = connect(`https://127.0.0.1:${tlsPort}`, { rejectUnauthorized: false });
    try {
      const status = await new Promise<number>((resolve, reject) => {
        const req = session.request({ ':path': '/ws' });
        req.on('response', (h) => resolve(Number(h[':status'])));
        req.on('error', reject);
        req.resume();
        req.end();
      });
      expect(status).toBe(426);
    } finally {
      session.close();
    }
  });

  it('a handshake with a bad key is an ordinary request (426 from the route); an unknown version gets 426 naming 13', async () => {
    const c = await RawClient.connect(plainPort);
    try {
      c.write(upgrade('/ws?who=bad', 'Sec-WebSocket-Key: short\r\nSec-WebSocket-Version: 13\r\n'));
      const n = await c.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(426);
      expect(n.body.toString()).toMatch(/WebSocket connections only/);
    } finally {
      c.destroy();
    }
    const v = await RawClient.connect(plainPort);
    try {
      v.write(upgrade('/ws?who=bad', `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 7\r\n`));
      const n = await v.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(426);
      expect(values(n, 'sec-websocket-version')).toEqual(['13']);
      expect(await v.closedWithin(5000)).toBe(true);
    } finally {
      v.destroy();
    }
    // the module's upgrade never ran for them (it greets every connection it opens)
    expect(cli.stdout()).not.toMatch(/"query":"who=bad"[^\n]*"status":101/);
  });

  it('an Upgrade that is not a WebSocket one is an ordinary request (h2c: ignored, RFC 9110 §7.8)', async () => {
    const c = await RawClient.connect(plainPort);
    try {
      c.write(
        'GET /sync HTTP/1.1\r\nHost: a\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n\r\n',
      );
      const n = await c.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(200);
      expect(n.body.toString()).toBe('sync\n');
      if (perRequestUpgrade) {
        // the connection stays open for the next request
        c.write('GET /sync HTTP/1.1\r\nHost: a\r\n\r\n');
        const again = await c.next(10_000);
        if (!('status' in again)) throw new Error(JSON.stringify(again));
        expect(again.status).toBe(200);
      } else {
        // older node: every upgrade leaves node's parser, so the answer closes the connection
        expect(values(n, 'connection')).toEqual(['close']);
        expect(await c.closedWithin(5000)).toBe(true);
      }
    } finally {
      c.destroy();
    }
  });

  it('a WebSocket upgrade to a route that takes none is served as an ordinary request, then closed', async () => {
    const c = await RawClient.connect(plainPort);
    try {
      c.write(upgrade('/sync', `Sec-WebSocket-Key: ${KEY}\r\nSec-WebSocket-Version: 13\r\n`));
      const n = await c.next(10_000);
      if (!('status' in n)) throw new Error(JSON.stringify(n));
      expect(n.status).toBe(200);
      expect(values(n, 'connection')).toEqual(['close']);
      expect(await c.closedWithin(5000)).toBe(true);
    } finally {
      c.destroy();
    }
  });
});

/**
 * WebSocket reference: the `ws` library on node:http, the usual Node choice, for the WebSocket
 * bench (loadtest/websocket.ts). The same behaviour as ws-uws.ts: echo; `/sub` subscribes to `fan`;
 * `pub:REST` sends REST to every subscriber (a loop over a Set, which is how `ws` users broadcast).
 * Usage: node dist/loadtest/contenders/ws-ws.js --port N
 */
import http from 'node:http';
import WebSocket, { WebSocketServer } from 'ws';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const server = http.createServer((_req, res) => res.end('ok'));
const wss = new WebSocketServer({ server, perMessageDeflate: false, maxPayload: 1024 * 1024 });
const fan = new Set<WebSocket>();
wss.on('connection', (ws, req) => {
  if (req.url === '/sub') fan.add(ws);
  ws.on('message', (data: Buffer, isBinary) => {
    if (!isBinary && data.length > 4 && data.toString('latin1', 0, 4) === 'pub:') {
      const out = data.subarray(4);
      for (const s of fan) if (s.readyState === WebSocket.OPEN) s.send(out, { binary: false });
    } else ws.send(data, { binary: isBinary });
  });
  ws.on('close', () => fan.delete(ws));
});
server.listen(port, '127.0.0.1');

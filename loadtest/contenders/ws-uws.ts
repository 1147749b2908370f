/**
 * WebSocket reference: raw uWebSockets.js (the engine under Switchyard), for the WebSocket bench
 * (loadtest/websocket.ts). Any path echoes each message; `/sub` also subscribes the connection to
 * the topic `fan`; a text message `pub:REST` publishes REST to `fan` (uWS's own pub/sub) instead of
 * echoing. No idle timeout, no compression, the same 1 MiB caps Switchyard's defaults use.
 * Usage: node dist/loadtest/contenders/ws-uws.js --port N
 */
import uWS from 'uWebSockets.js';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const app = uWS.App();
app
  .ws<{ sub: boolean }>('/*', {
    maxPayloadLength: 1024 * 1024,
    maxBackpressure: 1024 * 1024,
    idleTimeout: 0,
    compression: uWS.DISABLED,
    upgrade(res, req, context) {
      res.upgrade(
        { sub: req.getUrl() === '/sub' },
        req.getHeader('sec-websocket-key'),
        req.getHeader('sec-websocket-protocol'),
        req.getHeader('sec-websocket-extensions'),
        context,
      );
    },
    open(ws) {
      if (ws.getUserData().sub) ws.subscribe('fan');
    },
    message(ws, message, isBinary) {
      const m = Buffer.from(message);
      if (!isBinary && m.length > 4 && m.toString('latin1', 0, 4) === 'pub:')
        app.publish('fan', m.subarray(4), false);
      else ws.send(message, isBinary);
    },
  })
  .any('/*', (res) => {
    res.end('ok');
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`ws-uws: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });

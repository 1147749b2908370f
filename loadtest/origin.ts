/**
 * The origin every proxy contender forwards to: raw uWebSockets.js, one thread, as fast as we can
 * make it so that the proxy, not the origin, is what the proxy scenarios measure.
 *
 *   GET  /small   12 bytes "hello world\n"
 *   GET  /64k     65536 bytes
 *   POST /upload  reads the whole body, answers its length in decimal
 *   anything else 404
 *
 * Usage: node dist/loadtest/origin.js --port N
 */
import uWS from 'uWebSockets.js';
import { childArgs, exitWithParent } from './lib/child.js';

const { port } = childArgs();
exitWithParent();

const SMALL = Buffer.from('hello world\n');
const BIG = Buffer.alloc(65536, 'x');

uWS
  .App()
  .get('/small', (res) => {
    res.writeHeader('Content-Type', 'text/plain').end(SMALL);
  })
  .get('/64k', (res) => {
    res.writeHeader('Content-Type', 'application/octet-stream').end(BIG);
  })
  .post('/upload', (res) => {
    let length = 0;
    let aborted = false;
    res.onAborted(() => {
      aborted = true;
    });
    // The ArrayBuffer is detached after the callback; we only count it, so nothing to copy.
    res.onData((chunk, isLast) => {
      length += chunk.byteLength;
      if (isLast && !aborted)
        res.cork(() => res.writeHeader('Content-Type', 'text/plain').end(String(length)));
    });
  })
  .any('/*', (res) => {
    res.writeStatus('404 Not Found').end('not found\n');
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`origin: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });

/**
 * Handler reference: raw uWebSockets.js answering `Hello world!` (12 bytes, text/plain) on any
 * path. This is the ceiling a handler on our engine can reach; Switchyard's hello is reported as a
 * ratio to it. Usage: node dist/loadtest/contenders/uws-hello.js --port N
 */
import uWS from 'uWebSockets.js';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const HELLO = Buffer.from('Hello world!');

uWS
  .App()
  .any('/*', (res) => {
    res.writeHeader('Content-Type', 'text/plain').end(HELLO);
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`uws-hello: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });

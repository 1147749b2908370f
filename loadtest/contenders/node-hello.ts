/**
 * Handler contender: plain node:http answering `Hello world!` (12 bytes, text/plain) on any path.
 * Usage: node dist/loadtest/contenders/node-hello.js --port N
 */
import http from 'node:http';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const HELLO = Buffer.from('Hello world!');

const server = http.createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': HELLO.length });
  res.end(HELLO);
});
// Node's 5 s keep-alive default would close idle benchmark connections between rounds.
server.keepAliveTimeout = 75_000;
server.listen(port, '127.0.0.1');

/**
 * Handler floor: raw uWebSockets.js that reads the request head the way any server that routes
 * and checks requests must before it can answer — the method, the path, the query and every
 * header field (one `forEach` callback per field: uWS's HttpRequest is valid only during the
 * handler, so a server that may answer later has to copy it) — then answers `Hello world!`
 * (12 bytes, text/plain) like `uws-hello.ts`. The difference from raw uWS is what uWS.js's API
 * costs to read a request; the difference from Switchyard's hello is what our code adds.
 * Usage: node dist/loadtest/contenders/uws-read.js --port N
 */
import uWS from 'uWebSockets.js';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const HELLO = Buffer.from('Hello world!');
let fields: string[] = [];
const collect = (name: string, value: string): void => {
  fields.push(name, value);
};
/** What was read, kept until the next request so the reads cannot be optimised away. */
export const last = { method: '', url: '', query: '', fields };

uWS
  .App()
  .any('/*', (res, req) => {
    fields = [];
    last.method = req.getCaseSensitiveMethod();
    last.url = req.getUrl();
    last.query = req.getQuery() ?? '';
    req.forEach(collect);
    last.fields = fields;
    res.writeHeader('Content-Type', 'text/plain').end(HELLO);
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`uws-read: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });

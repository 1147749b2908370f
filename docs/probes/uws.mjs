// Probes of the uWebSockets.js build that docs/uws.md relies on. Run: node docs/probes/uws.mjs
// Each line printed is one fact, measured now on this machine. Loopback only; exits when done.
import { createRequire } from 'node:module';
import { connect } from 'node:net';
import { Worker } from 'node:worker_threads';

const require = createRequire(import.meta.url);
const uws = require('uWebSockets.js');
const say = (k, v) => console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);

/** Send raw bytes, collect what comes back until the server closes or `ms` pass. */
function raw(port, parts, ms = 600, gap = 20) {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    let closed = false;
    const t0 = Date.now();
    s.on('data', (d) => {
      got += d.toString('latin1');
    });
    s.on('error', () => {});
    s.on('close', () => {
      closed = true;
      clearTimeout(timer);
      resolve({ got, closed, ms: Date.now() - t0 });
    });
    const timer = setTimeout(() => {
      s.destroy();
      if (!closed) resolve({ got, closed: false, ms: Date.now() - t0 });
    }, ms);
    const list = Array.isArray(parts) ? parts : [parts];
    for (const [i, p] of list.entries()) setTimeout(() => s.write(p), i * gap);
  });
}

function listen(app) {
  return new Promise((resolve) => {
    app.listen('127.0.0.1', 0, (sock) => resolve({ sock, port: uws.us_socket_local_port(sock) }));
  });
}

say('node', `${process.version} abi ${process.versions.modules} ${process.platform}-${process.arch}`);
say('native (H3App and getParts exported)', 'H3App' in uws && 'getParts' in uws);
say(
  'exports',
  ['App', 'SSLApp', 'H3App', 'getParts', '_cfg', 'LIBUS_LISTEN_EXCLUSIVE_PORT'].filter((k) => k in uws),
);
const proto = Object.getPrototypeOf(uws.App());
say(
  'App methods',
  ['ws', 'publish', 'numSubscribers', 'listen_unix', 'addServerName'].filter(
    (k) => typeof proto[k] === 'function',
  ),
);

// What the handler sees, and what uWS writes on its own.
const seen = [];
const app = uws.App();
app.any('/*', (res, req) => {
  const entry = {
    caseSensitive: req.getCaseSensitiveMethod(),
    lower: req.getMethod(),
    query: req.getQuery(),
  };
  const headers = [];
  req.forEach((k, v) => {
    headers.push([k, v]);
  });
  entry.headers = headers;
  entry.peer = Buffer.from(res.getRemoteAddressAsText()).toString();
  seen.push(entry);
  const url = req.getUrl();
  if (url === '/head-len') return res.writeHeader('Content-Length', '5').endWithoutBody();
  if (url === '/204') return res.writeStatus('204 No Content').endWithoutBody();
  if (url === '/end-body-204') return res.writeStatus('204 No Content').end('abc');
  if (url === '/ewb-len') {
    res.onAborted(() => {});
    return res.endWithoutBody(5);
  }
  if (url === '/crlf') return res.writeHeader('X-A', 'b\r\nX-Injected: 1').end('ok');
  if (url === '/body') {
    let n = 0;
    res.onAborted(() => {});
    res.onData((chunk, last) => {
      n += chunk.byteLength;
      if (last) res.cork(() => res.end(`got ${n}`));
    });
    return;
  }
  res.end('hello');
});
const { port, sock } = await listen(app);
const any = await new Promise((resolve) => app.listen(0, (s) => resolve(uws.us_socket_local_port(s))));

const get = (path, method = 'GET', extra = '') => `${method} ${path} HTTP/1.1\r\nHost: a\r\n${extra}\r\n`;
let r = await raw(port, get('/x?'), 300);
say('response head uWS writes by default', r.got.split('\r\n\r\n')[0].split('\r\n').slice(1));
uws._cfg('999999990007');
r = await raw(port, get('/x'), 300);
say("after _cfg('999999990007')", r.got.split('\r\n\r\n')[0].split('\r\n').slice(1));
await raw(port, get('/y', 'PATCH', 'X-B: 1\r\nx-a: 2\r\nX-B: 3\r\n'), 300);
say(
  'getCaseSensitiveMethod / getMethod / getQuery (no ?)',
  seen.at(-1) && [seen.at(-1).caseSensitive, seen.at(-1).lower, seen.at(-1).query],
);
say('getQuery with a bare ?', seen[0].query);
say('forEach (wire order, names lower-cased, duplicates kept)', seen.at(-1).headers);
say('peer address text (listener on 127.0.0.1)', seen.at(-1).peer);
await raw(any, get('/x'), 300);
say('peer address text (listener without a host)', seen.at(-1).peer);

r = await raw(port, get('/crlf'), 300);
say('writeHeader value with CR LF goes on the wire', /\r\nX-Injected: 1\r\n/.test(r.got));
r = await raw(port, get('/head-len', 'HEAD'), 300);
say(
  "HEAD, writeHeader('Content-Length','5').endWithoutBody()",
  r.got
    .split('\r\n\r\n')[0]
    .split('\r\n')
    .slice(0, 1)
    .concat(r.got.match(/content-length: \d+/i)?.[0] ?? 'no length'),
);
r = await raw(port, [get('/204'), get('/x')], 400);
say('204 endWithoutBody(), then a keep-alive request', r.got.match(/HTTP\/1.1 \d+/g));
r = await raw(port, get('/end-body-204'), 400);
say('204 with end("abc"): bytes after the head', JSON.stringify(r.got.split('\r\n\r\n')[1] ?? ''));
r = await raw(port, [get('/ewb-len'), get('/x')], 1500);
say(
  'endWithoutBody(5), then a second request: what arrives in 1.5 s',
  JSON.stringify(r.got.replace(/Date: [^\r]*\r\n/g, '')),
);

// Parser: refused, closed at once, or passed on.
const cases = {
  'HTTP/1.0': 'GET / HTTP/1.0\r\n\r\n',
  'absolute-form': 'GET http://a/ HTTP/1.1\r\nHost: a\r\n\r\n',
  '49 header lines': `GET / HTTP/1.1\r\nHost: a\r\n${'X-A: 1\r\n'.repeat(48)}\r\n`,
  'CL + TE':
    'POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
  'CL: -1': 'POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
  'two different CL': 'POST /body HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde',
  'TE: gzip': 'POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n3\r\nabc\r\n0\r\n\r\n',
  'chunk size 1;a + 1 byte':
    'POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\r\nZ\r\n0\r\n\r\n',
  'chunk size 1;a + 442 bytes': `POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1;a\r\n${'Z'.repeat(442)}\r\n0\r\n\r\n`,
  'chunk data + XX instead of CRLF':
    'POST /body HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nZXX\r\n\r\n',
  'path with .. and %2e': 'GET /a/../%2e%2e/b HTTP/1.1\r\nHost: a\r\n\r\n',
};
for (const [name, bytes] of Object.entries(cases)) {
  const before = seen.length;
  r = await raw(port, bytes, 700);
  const status = r.got.match(/HTTP\/1.1 \d+/)?.[0] ?? 'no response';
  const body = r.got.split('\r\n\r\n')[1];
  say(
    `parser: ${name}`,
    `${status}${body ? ` body=${JSON.stringify(body)}` : ''}; ${r.closed ? `closed after ${r.ms} ms` : 'still open at 700 ms'}; handler ran: ${seen.length > before}`,
  );
}

// The idle timer: a connection that sends half a head.
r = await raw(port, 'GET / HTTP/1.1\r\nHo', 20000);
say('half a request head: closed by the idle timer after (ms)', r.closed ? r.ms : 'not closed in 20 s');

// Two listeners on one port from two threads; then the exclusive flag.
uws.us_listen_socket_close(sock);
const worker = `
  const { parentPort, workerData, threadId } = require('node:worker_threads');
  const uws = require(workerData.path);
  uws.App().any('/*', (res) => res.end(String(threadId)))
    .listen('127.0.0.1', workerData.port, workerData.flags, (s) => {
      parentPort.postMessage(!!s);
      parentPort.once('message', () => { if (s) uws.us_listen_socket_close(s); parentPort.close(); });
    });
`;
const path = require.resolve('uWebSockets.js');
const base = await listen(uws.App());
const shared = base.port;
uws.us_listen_socket_close(base.sock);
const threads = [0, 1].map(
  () => new Worker(worker, { eval: true, workerData: { path, port: shared, flags: 0 } }),
);
const ok = await Promise.all(threads.map((w) => new Promise((res) => w.once('message', res))));
say('two threads listen on one port (default flags)', ok);
const counts = {};
for (let i = 0; i < 400; i++) {
  const x = await raw(shared, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 1000);
  const who = x.got.split('\r\n\r\n')[1];
  counts[who] = (counts[who] ?? 0) + 1;
}
say('400 fresh connections by thread', counts);
const third = new Worker(worker, {
  eval: true,
  workerData: { path, port: shared, flags: uws.LIBUS_LISTEN_EXCLUSIVE_PORT },
});
say(
  'a third listener with LIBUS_LISTEN_EXCLUSIVE_PORT on the shared port',
  await new Promise((res) => third.once('message', res)),
);
// A second process of the same user, default flags, on the port the threads share.
const { spawn } = await import('node:child_process');
const other = spawn(
  process.execPath,
  [
    '-e',
    `require(${JSON.stringify(path)}).App().any('/*', (res) => res.end('process'))
       .listen('127.0.0.1', ${shared}, (s) => console.log(s ? 'bound' : 'refused'))`,
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
);
say(
  'a second process listens on the same port',
  String(await new Promise((res) => other.stdout.once('data', res))).trim(),
);
const byProcess = {};
for (let i = 0; i < 300; i++) {
  const x = await raw(shared, 'GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', 1000);
  const who = x.got.split('\r\n\r\n')[1] === 'process' ? 'second process' : 'this process';
  byProcess[who] = (byProcess[who] ?? 0) + 1;
}
say('300 fresh connections by process', byProcess);
other.kill();
for (const w of [...threads, third]) {
  w.postMessage('close');
  await new Promise((res) => w.once('exit', res));
}
process.exit(0);

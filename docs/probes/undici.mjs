// Probes of undici 7 that docs/undici.md relies on. Run: node docs/probes/undici.mjs
import { createServer } from 'node:net';
import { Agent, Pool, request } from 'undici';

const say = (k, v) => console.log(`${k}: ${typeof v === 'string' ? v : JSON.stringify(v)}`);
say('the undici inside Node (global fetch)', process.versions.undici);

// A raw origin: answers every request with `reply`, records what arrived.
const arrived = [];
let reply = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';
const origin = createServer((s) => {
  s.on('data', (d) => {
    arrived.push(d.toString('latin1'));
    s.write(reply);
  });
  s.on('error', () => {});
});
await new Promise((r) => origin.listen(0, '127.0.0.1', r));
const base = `http://127.0.0.1:${origin.address().port}`;

const refused = [];
for (const [name, value] of [
  ['transfer-encoding', 'chunked'],
  ['keep-alive', 'timeout=5'],
  ['upgrade', 'websocket'],
  ['expect', '100-continue'],
  ['connection', 'foo'],
  ['connection', 'keep-alive'],
  ['connection', 'a b'],
  ['connection', ['close', 'x']],
  ['host', ['a', 'b']],
  ['content-length', ['1', '1']],
  ['x-a', 'b\r\nx-injected: 1'],
]) {
  try {
    const res = await request(base, { method: 'POST', headers: { [name]: value }, body: 'x' });
    await res.body.dump();
  } catch (e) {
    refused.push(`${name}: ${JSON.stringify(value)} → ${e.code}`);
  }
}
say('request() refuses these client headers', refused);

say('new URL(base + "/public/../admin").pathname', new URL(`${base}/public/../admin`).pathname);
say('new URL(base + "/public/%2e%2e/admin").pathname', new URL(`${base}/public/%2e%2e/admin`).pathname);
arrived.length = 0;
const p0 = new Pool(base);
await (await p0.request({ method: 'GET', path: '/public/%2e%2e/../admin' })).body.dump();
await p0.close();
say("Pool.request({ path: '/public/%2e%2e/../admin' }) arrives as", arrived[0].split('\r\n')[0]);
arrived.length = 0;
await (await request(`${base}/public/%2e%2e/admin`)).body.dump();
say('request(base + "/public/%2e%2e/admin") arrives as', arrived[0].split('\r\n')[0]);

reply = 'HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\nabc';
try {
  const r204 = await request(base, { reset: true });
  say('a 204 with Content-Length: 3: status, then body bytes', [
    r204.statusCode,
    (await r204.body.arrayBuffer()).byteLength,
  ]);
} catch (e) {
  say('a 204 with Content-Length: 3', `status arrives, reading the body fails: ${e.code}`);
}
reply = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

// Defaults: a Pool created with no options.
const pool = new Pool(base);
const sym = (o, name) => {
  const s = Object.getOwnPropertySymbols(o).find((x) => x.description === name);
  return s ? o[s] : undefined;
};
say('Pool default connections (null = no cap)', sym(pool, 'connections') ?? null);
await (await pool.request({ path: '/', method: 'GET' })).body.dump();
const client = [...sym(pool, 'clients')][0];
say('client defaults (ms)', {
  headersTimeout: sym(client, 'headers timeout'),
  bodyTimeout: sym(client, 'body timeout'),
  keepAliveMaxTimeout: sym(client, 'max keep alive timeout'),
  keepAliveDefaultTimeout: sym(client, 'default keep alive timeout'),
});
await pool.close();

// An unconsumed body that is aborted emits 'error'.
const ac = new AbortController();
reply = 'HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nab';
const agent = new Agent();
const res = await request(base, { dispatcher: agent, signal: ac.signal });
const err = new Promise((r) => res.body.once('error', (e) => r(e.name)));
ac.abort();
say("aborting a response nobody reads emits 'error' on the body", await err);
await agent.destroy();
origin.close();
process.exit(0);

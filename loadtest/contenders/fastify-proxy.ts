/**
 * Proxy contender: fastify 5 + @fastify/http-proxy (undici underneath) forwarding everything to
 * the origin, with the same 64 upstream connections Switchyard and nginx get.
 * Usage: node dist/loadtest/contenders/fastify-proxy.js --port N --upstream http://127.0.0.1:M
 */
import proxy from '@fastify/http-proxy';
import Fastify from 'fastify';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port, values } = childArgs();
exitWithParent();
const upstream = values.upstream;
if (!upstream) {
  process.stderr.write('fastify-proxy: --upstream URL is required\n');
  process.exit(2);
}

// bodyLimit above the 1 MiB upload scenario (fastify's default is exactly 1 MiB).
const app = Fastify({ logger: false, keepAliveTimeout: 75_000, bodyLimit: 2 * 1024 * 1024 });
await app.register(proxy, {
  upstream,
  undici: { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 },
});

app.listen({ host: '127.0.0.1', port }).catch((err: Error) => {
  process.stderr.write(`fastify-proxy: ${err.message}\n`);
  process.exit(1);
});

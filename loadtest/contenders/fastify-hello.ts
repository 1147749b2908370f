/**
 * Handler contender: fastify 5 answering `Hello world!` (12 bytes, text/plain) on GET /hello and
 * GET /*. No logger, no plugins: fastify at its fastest.
 * Usage: node dist/loadtest/contenders/fastify-hello.js --port N
 */
import Fastify from 'fastify';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port } = childArgs();
exitWithParent();

const app = Fastify({ logger: false, keepAliveTimeout: 75_000 });
const hello = async (_req: unknown, reply: { type(t: string): { send(b: string): unknown } }) =>
  reply.type('text/plain').send('Hello world!');
app.get('/hello', hello);
app.get('/*', hello);

app.listen({ host: '127.0.0.1', port }).catch((err: Error) => {
  process.stderr.write(`fastify-hello: ${err.message}\n`);
  process.exit(1);
});

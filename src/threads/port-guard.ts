/**
 * The port is still ours alone. Acceptor threads share each port with SO_REUSEPORT, which would
 * also let a second process that sets it (another threaded Switchyard) join silently and take
 * half the connections. So before the acceptors listen, the supervisor binds every port
 * exclusively (node:net sets no SO_REUSEPORT), which fails with today's clear error if anything
 * holds it — including a threaded Switchyard's reuse-port sockets — then closes it and hands the
 * now-known port to the acceptors (port 0 is resolved here, once, so every thread binds the same).
 *
 * The window between this check and the acceptors' bind is a few milliseconds at start-up: two
 * threaded Switchyards started in the same instant on the same port could both pass. A process
 * that sets SO_REUSEPORT itself, as the same user, can still join later (nginx `reuseport`):
 * the kernel allows it by design.
 */
import { createServer } from 'node:net';
import { bindReason, ListenError } from '../server/engine.js';

/** Bind host:port exclusively and release it; resolves with the port (the chosen one for 0). */
export function claimPort(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', (err: NodeJS.ErrnoException) => {
      reject(new ListenError(`cannot listen on ${host}:${port} (${bindReason(err)})`));
    });
    srv.listen({ host, port, exclusive: true }, () => {
      const bound = (srv.address() as { port: number }).port;
      srv.close(() => resolve(bound));
    });
  });
}

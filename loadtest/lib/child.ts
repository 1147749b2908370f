/** Shared bits of the small servers the bench runs as children (origin, hello servers, fastify proxy). */
import { parseArgs } from 'node:util';

/** Parses `--port N` and the other `--name value` options a child is started with. */
export function childArgs(): { port: number; values: Record<string, string | undefined> } {
  const { values } = parseArgs({
    options: { port: { type: 'string' }, upstream: { type: 'string' } },
    strict: false,
  });
  const port = Number(values.port);
  if (!Number.isInteger(port) || port <= 0) {
    process.stderr.write('usage: --port N\n');
    process.exit(2);
  }
  return { port, values: values as Record<string, string | undefined> };
}

/**
 * The bench spawns each child with a stdin pipe; when the bench dies, even by SIGKILL, the pipe
 * closes and the child follows it instead of lingering on its port.
 */
export function exitWithParent(): void {
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
  process.on('SIGTERM', () => process.exit(0));
}

/** Shared bits of the small servers the bench runs as children (origin, hello servers, fastify proxy). */
import { fstatSync, type Stats } from 'node:fs';
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
 * closes and the child follows it instead of lingering on its port. Only a pipe is followed: run
 * by hand (loadtest/README: the origin behind your own proxy route) stdin may be /dev/null, at
 * its end from the start, or a terminal, which a background job must not read.
 */
export function exitWithParent(): void {
  process.on('SIGTERM', () => process.exit(0));
  let stdin: Stats;
  try {
    stdin = fstatSync(0);
  } catch {
    return; // no stdin at all
  }
  if (!stdin.isFIFO() && !stdin.isSocket()) return;
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

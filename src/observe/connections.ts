/**
 * Open client connections, for metrics and the status page: the established TCP sockets whose
 * local port is one of our listeners, read from /proc/self/net/tcp{,6} at scrape time. uWS tells
 * JavaScript nothing about HTTP connections opening or closing, so the kernel's table is the one
 * honest count (it also sees connections a handler never got a request from). Linux only:
 * elsewhere the count is unknown (undefined) and the metric is left out.
 */
import { readFileSync } from 'node:fs';

const ESTABLISHED = '01';

function countIn(file: string, ports: ReadonlySet<number>): number {
  let text: string;
  try {
    text = readFileSync(file, 'latin1');
  } catch {
    return -1;
  }
  let n = 0;
  // "  sl  local_address rem_address   st …": local "0100007F:1F90", state hex.
  for (const line of text.split('\n')) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 4 || cols[3] !== ESTABLISHED) continue;
    const local = cols[1]!;
    const port = Number.parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (ports.has(port)) n++;
  }
  return n;
}

/** Established connections to these local ports, or undefined where /proc is not there. */
export function openConnections(ports: ReadonlySet<number>): number | undefined {
  if (ports.size === 0) return 0;
  const v4 = countIn('/proc/self/net/tcp', ports);
  if (v4 < 0) return undefined;
  const v6 = countIn('/proc/self/net/tcp6', ports);
  return v4 + Math.max(0, v6);
}

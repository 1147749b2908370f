/**
 * The Node versions Switchyard runs on, stated once (README and package.json `engines` are kept
 * equal to it by test/cli-first-run.test.ts 'the Node version is stated once') and checked when
 * the CLI starts, before anything is imported that would fail in a less clear way.
 *
 * - at least 20.18.1: undici 7's own floor (older versions fail inside undici at run time);
 * - the uWS engine's native build exists only for Node 16–20: on 21+ listeners default to the
 *   node engine (one start-up line says why), and an explicit `engine: uws` is refused with the
 *   uWS loader's message (src/server/uws/load.ts).
 * Running the test suite needs 20.19 (vite, under vitest); that is a development matter.
 */
export const MIN_NODE = '20.18.1';

function parts(v: string): [number, number, number] {
  const [a = 0, b = 0, c = 0] = v
    .replace(/^v/, '')
    .split('.')
    .map((x) => Number.parseInt(x, 10) || 0);
  return [a, b, c];
}

/** Why this Node version cannot run Switchyard, or undefined when it can. */
export function nodeVersionProblem(version: string = process.versions.node): string | undefined {
  const have = parts(version);
  const need = parts(MIN_NODE);
  for (let i = 0; i < 3; i++) {
    if (have[i]! > need[i]!) return undefined;
    if (have[i]! < need[i]!) {
      return `Node ${MIN_NODE} or later is needed (undici 7 requires it); this is Node ${version.replace(/^v/, '')}`;
    }
  }
  return undefined;
}

/** node:net's `reusePort` listen option (acceptor threads sharing a port on the node engine). */
export function hasReusePort(version: string = process.versions.node): boolean {
  const [major, minor] = parts(version);
  return major > 23 || (major === 23 && minor >= 1) || (major === 22 && minor >= 12);
}

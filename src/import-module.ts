/**
 * Import a user module (a handler or a job) so that any failure names the file and, where the
 * engine knows it, the line: `routes/x.js:12: SyntaxError: Unexpected end of input`.
 *
 * Node 20 gives an ES module's SyntaxError no location (the "file:line" arrow is printed only for
 * an uncaught error), so on a SyntaxError we ask `node --check` for it: a child process, run only
 * on that failure path. A module that throws at its top level has the line in its stack.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { moduleUrl } from './module-url.js';

/**
 * Where in `file` a SyntaxError is, from `node --check` (`[stdin]:12` first on stderr). The source
 * goes in on stdin as a module: `--check FILE` outside a `"type": "module"` package reads it as
 * CommonJS and passes some broken modules (Node 20.20).
 */
function syntaxErrorLine(file: string): number | undefined {
  try {
    execFileSync(process.execPath, ['--input-type=module', '--check'], {
      input: readFileSync(file),
      stdio: ['pipe', 'ignore', 'pipe'],
      timeout: 10_000,
    });
  } catch (err) {
    const m = /^\[stdin\]:(\d+)/m.exec(String((err as { stderr?: Buffer }).stderr ?? ''));
    if (m !== null) return Number(m[1]);
  }
  return undefined;
}

/**
 * The line of `file` in a stack trace (`file:///…/x.js:2:7`, or `x.js?v=HASH:2:7` as imported by
 * `importModule`), if the error was thrown there. A module with no import or export outside a
 * `"type": "module"` package is loaded as CommonJS, and its frames name the plain path.
 */
function stackLine(stack: string | undefined, url: string, file: string): number | undefined {
  if (stack === undefined) return undefined;
  for (const name of [url, `(${file}`]) {
    const at = stack.indexOf(name);
    if (at === -1) continue;
    const m = /^(?:\?v=[0-9a-f]+)?:(\d+)/.exec(stack.slice(at + name.length));
    if (m !== null) return Number(m[1]);
  }
  return undefined;
}

/** Why a module failed to load, naming the file (and line): for config problems and start-up errors. */
export function describeLoadError(file: string, err: unknown): string {
  const e = err instanceof Error ? err : new Error(String(err));
  const url = pathToFileURL(file).href;
  const line = e.name === 'SyntaxError' ? syntaxErrorLine(file) : stackLine(e.stack, url, file);
  const where = line === undefined ? file : `${file}:${line}`;
  return `${where}: ${e.name}: ${e.message}`;
}

/** `import()` a module by path; a failure is an Error whose message names the file and line. */
export async function importModule(fileOrUrl: string): Promise<Record<string, unknown>> {
  const file = fileOrUrl.startsWith('file:') ? fileURLToPath(fileOrUrl) : fileOrUrl;
  try {
    // Versioned by content: a reload imports a changed module fresh (src/module-url.ts).
    return (await import(moduleUrl(file))) as Record<string, unknown>;
  } catch (err) {
    throw new Error(describeLoadError(file, err), { cause: err });
  }
}

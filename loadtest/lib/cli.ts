/**
 * Command lines of the `bench:*` scripts: `--help` prints the script's usage and exits 0; an unknown
 * option, a missing value or a value out of range prints `name: what is wrong`, then the usage, and
 * exits 2 — before any server, load generator or file is started.
 */
import { type ParseArgsConfig, parseArgs } from 'node:util';

/** A command-line mistake: the message names the option and what it needs. */
export class UsageError extends Error {}

/** Print `name: message` and the usage to stderr and exit 2. */
export function usageExit(name: string, usage: string, message: string): never {
  process.stderr.write(`${name}: ${message}\n\n${usage}`);
  process.exit(2);
}

/**
 * parseArgs on this process's arguments, strict (no positionals), with `--help`/`-h` added; a
 * mistake in the arguments, or a UsageError thrown by `check` (the values' own rules), ends the
 * process as `usageExit` does.
 */
export function parseCli<T extends ParseArgsConfig['options']>(
  name: string,
  usage: string,
  options: T,
  check?: (values: ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values']) => void,
): ReturnType<typeof parseArgs<{ options: T; strict: true }>>['values'] {
  const args = process.argv.slice(2);
  if (args.includes('--help') || args.includes('-h')) {
    process.stdout.write(usage);
    process.exit(0);
  }
  try {
    const { values } = parseArgs({ args, options, strict: true, allowPositionals: false });
    check?.(values);
    return values;
  } catch (err) {
    return usageExit(name, usage, (err as Error).message);
  }
}

/** `--name=raw` as a whole number ≥ `min` (a trailing `s` allowed: `--duration=5s`); `dflt` when absent. */
export function whole(name: string, raw: string | undefined, dflt: number, min: number): number {
  if (raw === undefined) return dflt;
  const n = Number(raw.replace(/s$/, ''));
  if (raw === '' || !Number.isInteger(n) || n < min)
    throw new UsageError(`--${name}: "${raw}" is not a whole number ≥ ${min}`);
  return n;
}

/** `--name=raw` as one of `allowed`. */
export function oneOf<const A extends readonly string[]>(name: string, raw: string, allowed: A): A[number] {
  if (!allowed.includes(raw)) throw new UsageError(`--${name}: "${raw}" is not one of ${allowed.join(', ')}`);
  return raw;
}

/** `items` joined by ", " on lines of at most `width` columns, each after `indent` spaces. */
export function wrapList(items: readonly string[], indent: number, width = 100): string {
  const lines: string[] = [];
  let line = '';
  for (const [i, item] of items.entries()) {
    const piece = i < items.length - 1 ? `${item},` : item;
    if (line !== '' && indent + line.length + 1 + piece.length > width) {
      lines.push(line);
      line = piece;
    } else line = line === '' ? piece : `${line} ${piece}`;
  }
  lines.push(line);
  return lines.map((l) => `${' '.repeat(indent)}${l}`).join('\n');
}

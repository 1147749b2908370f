/**
 * Config text to a plain tree: YAML, or JSON by extension. Syntax errors keep the parser's
 * context (the line and a caret under the spot), not just the first line of the message.
 */
import { extname } from 'node:path';
import { parseDocument, type YAMLError } from 'yaml';
import { shield, unshield } from './env.js';

export type Parsed = { ok: true; raw: unknown } | { ok: false; problems: string[] };

/** At most this many syntax errors are shown: after the first few they are echoes of it. */
const MAX_SYNTAX_ERRORS = 3;

/** `(parse) line 3, column 7: message` and the context lines below it, indented. */
function yamlProblem(e: YAMLError): string {
  const [head = '', ...context] = unshield(e.message).split('\n');
  const pos = e.linePos?.[0];
  const message = head.replace(/ at line \d+, column \d+:?$/, '');
  const where = pos === undefined ? '(parse)' : `(parse) line ${pos.line}, column ${pos.col}`;
  const lines = context.filter((l) => l.trim() !== '');
  return [`${where}: ${message}`, ...lines.map((l) => `    | ${l}`)].join('\n  ');
}

function circular(v: unknown, above: Set<object>): boolean {
  if (v === null || typeof v !== 'object') return false;
  if (above.has(v)) return true;
  above.add(v);
  for (const child of Object.values(v)) if (circular(child, above)) return true;
  above.delete(v);
  return false;
}

export function parseText(text: string, file: string): Parsed {
  if (extname(file).toLowerCase() === '.json') {
    try {
      return { ok: true, raw: JSON.parse(text) };
    } catch (err) {
      // V8 says where by offset: say the line and column, as YAML errors do
      const message = (err as Error).message;
      const at = /at position (\d+)/.exec(message);
      if (at === null) return { ok: false, problems: [`(parse): ${message}`] };
      const before = text.slice(0, Number(at[1])).split('\n');
      const where = `line ${before.length}, column ${before.at(-1)!.length + 1}`;
      return {
        ok: false,
        problems: [`(parse) ${where}: ${message.replace(/\s*\(line \d+ column \d+\)/, '')}`],
      };
    }
  }
  const doc = parseDocument(shield(text), { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0)
    return { ok: false, problems: doc.errors.slice(0, MAX_SYNTAX_ERRORS).map(yamlProblem) };
  let raw: unknown;
  try {
    raw = doc.toJS(); // aliases multiplying past the yaml package's bound (an "alias bomb") fail here
  } catch (err) {
    return { ok: false, problems: [`(parse): ${(err as Error).message}`] };
  }
  // `a: &a [*a]` makes a tree that contains itself: every walk of it would recurse for ever
  if (circular(raw, new Set()))
    return { ok: false, problems: ['(parse): an alias (*name) inside what it names'] };
  return { ok: true, raw };
}

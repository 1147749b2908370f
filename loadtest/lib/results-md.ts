/**
 * loadtest/RESULTS.md holds the main bench's tables (bench.ts writes the whole file) and sections
 * that other benches write between `<!-- bench:NAME -->` and `<!-- /bench:NAME -->` (websocket.ts:
 * `bench:ws`). Each writer keeps the others' sections.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';

const SECTION = /<!-- bench:([a-z-]+) -->[\s\S]*?<!-- \/bench:\1 -->\n?/g;

/** The sections other benches wrote in `text`, to append to a regenerated file. */
export function keptSections(text: string): string {
  return (text.match(SECTION) ?? []).join('\n');
}

/** Write (or replace) section `name` of `file` with `body` (Markdown). */
export function writeSection(file: string, name: string, body: string): void {
  const old = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const block = `<!-- bench:${name} -->\n${body.trim()}\n<!-- /bench:${name} -->\n`;
  const re = new RegExp(`<!-- bench:${name} -->[\\s\\S]*?<!-- /bench:${name} -->\\n?`);
  writeFileSync(file, re.test(old) ? old.replace(re, block) : `${old.trimEnd()}\n\n${block}`);
}

/**
 * The URL a handler or job module is imported from: its file URL plus `?v=` and a hash of its
 * contents. ESM caches a module by URL for the life of the process, so a reload that imports the
 * same URL gets the old code; a changed file gets a new URL and is loaded fresh, an unchanged one
 * keeps its URL and its module instance (no re-import, no growth). Only the module named in the
 * config is versioned: what it imports itself stays cached (restart for those; README "Reload").
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

export function moduleUrl(file: string): string {
  const url = pathToFileURL(file).href;
  let text: Buffer;
  try {
    text = readFileSync(file);
  } catch {
    return url; // the import reports the missing file with its own error
  }
  return `${url}?v=${createHash('sha1').update(text).digest('hex').slice(0, 12)}`;
}

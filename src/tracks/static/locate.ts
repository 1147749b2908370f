/**
 * From the routed path to a file under `root`, refusing every way out. The path was normalised
 * before routing (src/router/normalize.ts: `%2e` decoded, dot segments resolved, `\`, `%5C`, `#`,
 * control bytes and climbs above `/` refused), but the router percent-decodes the `*` parameter,
 * so `%2F` becomes `/` here and `..%2F..%2Fetc` would read as `../../etc`: segments are checked
 * again after decoding. The file's real path (symlinks resolved) must stay inside the root's real
 * path unless `follow_symlinks` allows links that leave it.
 */

import type { Stats } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { syError } from '../../errors.js';

export interface Located {
  file: string;
  stats: Stats;
}

export interface LocateOptions {
  /** the root's real path */
  root: string;
  index: readonly string[];
  dotfiles: 'ignore' | 'allow' | 'deny';
  followSymlinks: boolean;
}

/** What the caller answers when the path is a directory without its trailing slash. */
export class DirectoryRedirect {
  constructor(readonly location: string) {}
}

function fsError(err: unknown): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return syError('SY_ERR_FORBIDDEN');
  // ENOENT, ENOTDIR, ENAMETOOLONG, ELOOP …: nothing servable there
  return syError('SY_ERR_NOT_FOUND');
}

async function inside(file: string, o: LocateOptions): Promise<void> {
  if (o.followSymlinks) return;
  const real = await realpath(file).catch((err: unknown) => {
    throw fsError(err);
  });
  if (real !== o.root && !real.startsWith(o.root + sep)) throw syError('SY_ERR_NOT_FOUND');
}

async function statOf(file: string): Promise<Stats> {
  try {
    return await stat(file);
  } catch (err) {
    throw fsError(err);
  }
}

/**
 * The file for `rel` (the decoded path below the route's prefix), or a DirectoryRedirect.
 * Throws a SwitchyardError: 400 for a segment that could climb or smuggle (`..`, `.`, `\`, NUL),
 * 404 for what does not exist, a hidden dotfile or a link out of root, 403 for `dotfiles: deny`
 * and unreadable files.
 */
export async function locate(
  rel: string,
  urlPath: string,
  o: LocateOptions,
): Promise<Located | DirectoryRedirect> {
  const segs: string[] = [];
  for (const seg of rel.split('/')) {
    if (seg === '') continue;
    if (seg === '..' || seg === '.' || seg.includes('\\') || seg.includes('\0'))
      throw syError('SY_ERR_BAD_PATH', `static path segment "${seg.slice(0, 100)}"`);
    if (seg.charCodeAt(0) === 0x2e /* . */ && o.dotfiles !== 'allow')
      throw syError(o.dotfiles === 'deny' ? 'SY_ERR_FORBIDDEN' : 'SY_ERR_NOT_FOUND');
    segs.push(seg);
  }
  let file = segs.length === 0 ? o.root : join(o.root, ...segs);
  let stats = await statOf(file);
  if (stats.isDirectory()) {
    if (o.index.length === 0) throw syError('SY_ERR_NOT_FOUND', 'a directory, and no index is configured');
    if (!urlPath.endsWith('/')) return new DirectoryRedirect(`${urlPath}/`);
    let found: Stats | undefined;
    for (const name of o.index) {
      const candidate = join(file, name);
      found = await stat(candidate).catch(() => undefined);
      if (found?.isFile()) {
        file = candidate;
        break;
      }
      found = undefined;
    }
    if (found === undefined) throw syError('SY_ERR_NOT_FOUND', 'a directory without an index file');
    stats = found;
  } else if (urlPath.endsWith('/')) {
    // `/notes.txt/` names a directory that is not there (nginx: ENOTDIR, 404); serving the file
    // would give it a second URL under which its relative links resolve one level too deep
    throw syError('SY_ERR_NOT_FOUND', 'a file is not a directory');
  }
  if (!stats.isFile()) throw syError('SY_ERR_NOT_FOUND', 'not a regular file');
  await inside(file, o);
  return { file, stats };
}

/** A precompressed sibling (`file.br`) when it is a regular file inside root; else undefined. */
export async function variant(file: string, suffix: string, o: LocateOptions): Promise<Located | undefined> {
  const path = file + suffix;
  const stats = await stat(path).catch(() => undefined);
  if (stats === undefined || !stats.isFile()) return undefined;
  try {
    await inside(path, o);
  } catch {
    return undefined;
  }
  return { file: path, stats };
}

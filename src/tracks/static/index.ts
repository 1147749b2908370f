/**
 * The static track: files under a root, as nginx serves them.
 *
 * ```yaml
 * - path: "/assets/*"
 *   static: { root: ./public, index: index.html, max_age: 1h, immutable: false, precompressed: [br, gzip] }
 * ```
 *
 * The file is the route's `*` parameter (`/assets/*`, `/assets*`; on a route without one, the whole path) under
 * `root` (./locate.ts: no way out). GET and HEAD only. Strong ETag and Last-Modified from the
 * file's size and mtime; conditional requests and single ranges (./conditions.ts); MIME types
 * from `mime-types`, with `charset=utf-8` on text; bodies streamed from the file (./file-body.ts).
 */
import { existsSync, realpathSync, statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { etag } from 'etag';
import { contentType } from 'mime-types';
import { z } from 'zod';
import { compression } from '../../compress/index.js';
import { duration } from '../../config/fields.js';
import { syError } from '../../errors.js';
import type { Exchange, Reply, ReplyHeaders } from '../../exchange.js';
import { acceptedEncodings } from '../../http/accept-encoding.js';
import { defineTrack } from '../track.js';
import { type CachedFile, FileCache } from './cache.js';
import { type Conditions, notModified, preconditionFailed, rangeOf } from './conditions.js';
import { fileBody } from './file-body.js';
import { DirectoryRedirect, type LocateOptions, locate, variant } from './locate.js';

/** Files up to this size are read whole (one read, no stream); larger ones stream. */
const READ_WHOLE = 64 * 1024;
const SUFFIX = { br: '.br', gzip: '.gz' } as const;

const shape = {
  static: z.strictObject({
    /** the directory served; relative to the config file */
    root: z.string().min(1),
    /** file(s) tried, in order, for a directory; `false` or [] for none (then 404) */
    index: z
      .union([z.string().min(1), z.array(z.string().min(1)), z.literal(false)])
      .default('index.html')
      .transform((v) => (v === false ? [] : typeof v === 'string' ? [v] : v)),
    /** how long what a path resolved to (and small files' bytes) is reused; 0s: never (./cache.ts) */
    cache: duration.default(1000),
    /** Cache-Control: public, max-age=…; none when absent */
    max_age: duration.optional(),
    /** add `immutable` to Cache-Control (fingerprinted assets) */
    immutable: z.boolean().default(false),
    /** serve `file.br` / `file.gz` beside `file` when the client accepts it, in this order of preference */
    precompressed: z.array(z.enum(['br', 'gzip'])).default([]),
    /** names starting with `.`: ignore (404, default), deny (403) or allow */
    dotfiles: z.enum(['ignore', 'deny', 'allow']).default('ignore'),
    /** also serve symlinks that lead outside root (default: only links that stay inside) */
    follow_symlinks: z.boolean().default(false),
  }),
};

function rootOf(root: string, configDir: string): string {
  return resolve(configDir, root);
}

function conditions(ex: Exchange): Conditions {
  return {
    ifMatch: ex.header('if-match'),
    ifUnmodifiedSince: ex.header('if-unmodified-since'),
    ifNoneMatch: ex.header('if-none-match'),
    ifModifiedSince: ex.header('if-modified-since'),
    range: ex.method === 'GET' ? ex.header('range') : undefined,
    ifRange: ex.header('if-range'),
  };
}

export const staticTrack = defineTrack({
  name: 'static',
  shape,
  check(route, refs) {
    const root = rootOf(route.static.root, refs.configDir);
    if (!existsSync(root)) return [{ key: 'static', message: `root ${root} does not exist` }];
    if (!statSync(root).isDirectory()) return [{ key: 'static', message: `root ${root} is not a directory` }];
    return [];
  },
  compile(route, env) {
    const cfg = route.static;
    const opts: LocateOptions = {
      root: realpathSync(rootOf(cfg.root, env.configDir)),
      index: cfg.index,
      dotfiles: cfg.dotfiles,
      followSymlinks: cfg.follow_symlinks,
    };
    const wildcard = route.path.endsWith('*');
    const cache = new FileCache(cfg.cache);
    const cacheControl =
      cfg.max_age === undefined
        ? undefined
        : `public, max-age=${Math.floor(cfg.max_age / 1000)}${cfg.immutable ? ', immutable' : ''}`;
    const encodings = cfg.precompressed;
    const offered = [...encodings, 'identity'];
    const vary = encodings.length > 0 ? 'Accept-Encoding' : undefined;
    const compressed = route.compress === undefined ? undefined : compression(route.compress);
    const methodErr = () => {
      const err = syError('SY_ERR_METHOD_NOT_ALLOWED');
      err.headers = { allow: 'GET, HEAD' };
      return err;
    };

    /** the file (and variant) for a request, from the cache or the file system */
    const find = async (ex: Exchange, rel: string): Promise<CachedFile | DirectoryRedirect> => {
      const ae = ex.header('accept-encoding');
      // keyed by the URL path, not `rel`: `/s` and `/s/` have the same `*` ('') but answer a
      // redirect and the index (a redirect is never cached, so `/s` would get the index)
      const key = encodings.length > 0 ? `${ex.path}\n${ae ?? ''}` : ex.path;
      const now = ex.startTime;
      const hit = cache.get(key, now);
      if (hit !== undefined) return hit;
      const found = await locate(rel, ex.path, opts);
      if (found instanceof DirectoryRedirect) return found;
      let { file, stats } = found;
      let encoding: string | undefined;
      if (encodings.length > 0) {
        for (const enc of acceptedEncodings(ae, offered)) {
          if (enc === 'identity') break;
          const v = await variant(file, SUFFIX[enc as 'br' | 'gzip'], opts);
          if (v !== undefined) {
            ({ file, stats } = v);
            encoding = enc;
            break;
          }
        }
      }
      // small files are read whole (one call, and kept by the cache); larger ones stream
      const bytes =
        stats.size <= READ_WHOLE && (cache.enabled || ex.method === 'GET')
          ? await readFile(file).catch(() => {
              throw syError('SY_ERR_NOT_FOUND', 'the file went away');
            })
          : undefined;
      const entry = { file, stats, encoding, bytes };
      if (cache.enabled) cache.set(key, entry, now);
      return { ...entry, expires: 0 };
    };

    return async (ex, params): Promise<Reply> => {
      if (ex.method !== 'GET' && ex.method !== 'HEAD') throw methodErr();
      const found = await find(ex, wildcard ? (params['*'] ?? '') : ex.path);
      if (found instanceof DirectoryRedirect) {
        const location = ex.query === '' ? found.location : `${found.location}?${ex.query}`;
        return { status: 301, headers: { location, 'content-type': 'text/plain; charset=utf-8' }, body: '' };
      }
      const { file, stats, encoding, bytes } = found;
      const type =
        contentType(extname(encoding === undefined ? file : file.slice(0, file.lastIndexOf('.')))) ||
        'application/octet-stream';
      const tag = etag(stats, { weak: false });
      const lastModified = stats.mtime.toUTCString();
      const headers: ReplyHeaders = {
        etag: tag,
        'last-modified': lastModified,
        'cache-control': cacheControl,
        vary,
      };
      const c = conditions(ex);
      if (preconditionFailed(c, tag, stats.mtimeMs)) {
        const err = syError('SY_ERR_PRECONDITION_FAILED');
        err.headers = { etag: tag, 'last-modified': lastModified };
        throw err;
      }
      if (notModified(c, tag, lastModified)) return { status: 304, headers };
      headers['content-type'] = type;
      headers['accept-ranges'] = 'bytes';
      headers['content-encoding'] = encoding;
      const size = stats.size;
      // A file the route's `compress` will encode for this client is answered whole: a range of
      // the identity bytes would be spliced into a compressed download (nginx's gzip does the same).
      if (
        c.range !== undefined &&
        encoding === undefined &&
        compressed?.compresses(type, size, ex.header('accept-encoding')) === true
      )
        c.range = undefined;
      const range = rangeOf(c, size, tag, stats.mtimeMs);
      if (range.kind === 'unsatisfiable') {
        const err = syError(
          'SY_ERR_RANGE_NOT_SATISFIABLE',
          `range "${c.range!.slice(0, 100)}" of ${size} bytes`,
        );
        err.headers = { 'content-range': `bytes */${size}`, 'accept-ranges': 'bytes' };
        throw err;
      }
      let status = 200;
      let start = 0;
      let length = size;
      if (range.kind === 'partial') {
        status = 206;
        start = range.start;
        length = range.end - range.start + 1;
        headers['content-range'] = `bytes ${range.start}-${range.end}/${size}`;
      }
      if (bytes !== undefined) {
        // the bytes as read (the file may have changed since its stat: the length follows the bytes)
        return { status, headers, body: status === 206 ? bytes.subarray(start, start + length) : bytes };
      }
      return { status, headers, body: fileBody(file, start, length), length };
    };
  },
});

/**
 * Conditional requests and ranges for a file (RFC 9110 §13 and §14), evaluated in the RFC's order:
 * If-Match, else If-Unmodified-Since → 412; If-None-Match, else If-Modified-Since → 304 (the
 * `fresh` package); then Range, honoured only if If-Range still matches (`range-parser`).
 *
 * Written here rather than taken from a library: If-Match / If-Unmodified-Since (`fresh` covers
 * only the 304 side; the `send` package has them but owns the whole response and the file
 * stream) and If-Range, each a few lines of header comparison.
 */
import fresh from 'fresh';
import { combineRanges, parse as parseRange } from 'range-parser';

/** The request headers these rules read. */
export interface Conditions {
  ifMatch: string | undefined;
  ifUnmodifiedSince: string | undefined;
  ifNoneMatch: string | undefined;
  ifModifiedSince: string | undefined;
  range: string | undefined;
  ifRange: string | undefined;
}

/** Seconds resolution: HTTP dates have no milliseconds. */
const seconds = (ms: number) => Math.floor(ms / 1000) * 1000;

/** Strong comparison of `etag` against an If-Match list (`*` matches any). */
function strongMatch(list: string, etag: string): boolean {
  if (etag.startsWith('W/')) return false;
  for (const raw of list.split(',')) {
    const t = raw.trim();
    if (t === '*' || t === etag) return true;
  }
  return false;
}

/** 412 when a precondition fails (RFC 9110 §13.2.2 steps 1–2). */
export function preconditionFailed(c: Conditions, etag: string, mtimeMs: number): boolean {
  if (c.ifMatch !== undefined) return !strongMatch(c.ifMatch, etag);
  if (c.ifUnmodifiedSince !== undefined) {
    const d = Date.parse(c.ifUnmodifiedSince);
    if (!Number.isNaN(d) && seconds(mtimeMs) > d) return true;
  }
  return false;
}

/** 304 for GET/HEAD when the client's copy is current (steps 3–4). */
export function notModified(c: Conditions, etag: string, lastModified: string): boolean {
  if (c.ifNoneMatch === undefined && c.ifModifiedSince === undefined) return false;
  return fresh(
    { 'if-none-match': c.ifNoneMatch, 'if-modified-since': c.ifModifiedSince },
    { etag, 'last-modified': lastModified },
  );
}

/** If-Range: an entity tag must match strongly, a date must equal Last-Modified exactly. */
function ifRangeHolds(ifRange: string | undefined, etag: string, mtimeMs: number): boolean {
  if (ifRange === undefined) return true;
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return !etag.startsWith('W/') && v === etag;
  const d = Date.parse(v);
  return !Number.isNaN(d) && d === seconds(mtimeMs);
}

export type RangeOutcome =
  /** serve the whole file (no Range, a stale If-Range, a malformed or multi-part Range) */
  { kind: 'full' } | { kind: 'partial'; start: number; end: number } | { kind: 'unsatisfiable' };

/** Only single byte ranges are served; several ranges get the whole file (200), as allowed. */
export function rangeOf(c: Conditions, size: number, etag: string, mtimeMs: number): RangeOutcome {
  if (c.range === undefined || !ifRangeHolds(c.ifRange, etag, mtimeMs)) return { kind: 'full' };
  const r = parseRange(size, c.range);
  // code bit 1: malformed (ignored, RFC 9110 §14.2 allows it); bit 2: a range past the end
  if (r.type !== 'bytes' || (r.code & 1) !== 0) return { kind: 'full' };
  if (r.ranges.length === 0) return (r.code & 2) !== 0 ? { kind: 'unsatisfiable' } : { kind: 'full' };
  const ranges = combineRanges(r.ranges);
  if (ranges.length !== 1) return { kind: 'full' };
  const { start, end } = ranges[0]!;
  return { kind: 'partial', start, end };
}

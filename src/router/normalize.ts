/**
 * Path normalisation, done once per request before routing. The router matches on the result,
 * every track sees the result, and the proxy sends exactly the result upstream: a path cannot be
 * checked in one form and used in another (the classic `/public/../admin` and `%2e%2e` bypasses;
 * WHATWG URL parsing: docs/undici.md).
 *
 * - `%2e` / `%2E` are decoded to `.` (RFC 3986 §2.3: unreserved, equivalent), then dot segments are
 *   removed (RFC 3986 §5.2.4); a `..` that would climb above the root is refused (as nginx does).
 * - `//` collapses to `/` (nginx's merge_slashes default).
 * - refused with 400: `\` and `%5C` (backslash is a separator for some back ends), `#` (a fragment
 *   never belongs in a request, RFC 9112 §3.2), raw bytes outside visible ASCII, encoded control
 *   bytes (`%00`–`%1F`, `%7F`), malformed `%` escapes, and anything not starting with `/`.
 * - other escapes (`%2F` included) are kept as they are, with hex digits upper-cased.
 */

/** The normalised path, or null when the path must be refused with 400. */
export function normalizePath(raw: string): string | null {
  const n = raw.length;
  if (n === 0 || raw.charCodeAt(0) !== 47 /* / */) return null;
  // Fast path: nothing to decode or resolve. One scan, no allocation.
  let clean = true;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    const c = raw.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 0x5c /* \ */ || c === 0x23 /* # */) return null;
    if (c === 0x25 /* % */ || (c === 0x2e /* . */ && prev === 0x2f) || (c === 0x2f && prev === 0x2f))
      clean = false;
    prev = c;
  }
  if (clean) return raw;
  return slowNormalize(raw);
}

const HEX = /^[0-9A-Fa-f]{2}$/;

function slowNormalize(raw: string): string | null {
  // 1. escapes
  let decoded = '';
  let last = 0;
  for (let i = raw.indexOf('%'); i !== -1; i = raw.indexOf('%', i + 1)) {
    const hex = raw.slice(i + 1, i + 3);
    if (!HEX.test(hex)) return null;
    const code = Number.parseInt(hex, 16);
    if (code < 0x20 || code === 0x7f || code === 0x5c) return null;
    decoded += raw.slice(last, i) + (code === 0x2e ? '.' : `%${hex.toUpperCase()}`);
    last = i + 3;
  }
  decoded += raw.slice(last);

  // 2. segments: merge slashes, remove dot segments
  const parts = decoded.split('/');
  const out: string[] = [];
  const endsWithDir = parts.length > 1 && ['', '.', '..'].includes(parts[parts.length - 1]!);
  for (let i = 1; i < parts.length; i++) {
    const seg = parts[i]!;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (out.length === 0) return null;
      out.pop();
      continue;
    }
    out.push(seg);
  }
  let path = '/' + out.join('/');
  if (endsWithDir && out.length > 0) path += '/';
  return path;
}

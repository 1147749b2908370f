/**
 * The path sent upstream: the normalised path the router matched (never the raw one, and never
 * re-parsed as a URL: WHATWG parsing would resolve `..` and `%2e%2e` again, docs/undici.md), with the
 * route's `strip_prefix` removed and `add_prefix` put in front, then `?` and the raw query.
 *
 * The query is passed as the client sent it, but only if every byte is a visible ASCII character
 * other than `#` (undici refuses controls and spaces; a fragment never belongs in a request).
 */

import { syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';

const BAD_QUERY = /[^\x21-\x22\x24-\x7e]/;

export class UpstreamPath {
  private readonly strip: string;
  private readonly add: string;

  constructor(route: ProxyRouteConfig) {
    this.strip = route.strip_prefix ?? '';
    // `/v1/` + `/x` would give `/v1//x`
    const add = route.add_prefix ?? '';
    this.add = add.endsWith('/') ? add.slice(0, -1) : add;
  }

  build(ex: Exchange): string {
    let path = ex.path;
    const strip = this.strip;
    if (strip !== '' && path.startsWith(strip)) {
      path = path.slice(strip.length);
      if (path.charCodeAt(0) !== 47 /* / */) path = `/${path}`;
    }
    if (this.add !== '') path = this.add + path;
    const q = ex.query;
    if (q === '') return path;
    if (BAD_QUERY.test(q)) throw syError('SY_ERR_BAD_REQUEST', 'invalid character in the query string');
    return `${path}?${q}`;
  }
}

/**
 * Response writing helpers for the uWS engine: status lines built once, header validation, and the
 * framing rules from platform.md (uWS writes Date and Content-Length / Transfer-Encoding itself:
 * never copy those from a reply, or duplicates go on the wire).
 */

import type { HttpResponse } from 'uWebSockets.js';
import { STATUS_CODES } from 'node:http';
import { type ReplyHeaders, safeValue } from '../../exchange.js';

const STATUS_LINES: string[] = [];
for (let s = 100; s < 600; s++) STATUS_LINES[s] = `${s} ${STATUS_CODES[s] ?? 'Unknown'}`;

/** "200 OK" for 200; undefined for a status we refuse to write (outside 200–599). */
export function statusLine(status: number): string | undefined {
  return status >= 200 && status <= 599 && Number.isInteger(status) ? STATUS_LINES[status] : undefined;
}

/** RFC 9110 §6.4.1: no content for 204 and 304 (and 1xx, which we never write). */
export function statusHasBody(status: number): boolean {
  return status !== 204 && status !== 304;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Fields the engine owns. Compared lower-case. */
function isFraming(lower: string): boolean {
  switch (lower) {
    case 'content-length':
    case 'transfer-encoding':
    case 'connection':
    case 'keep-alive':
    case 'date':
      return true;
  }
  return false;
}

/**
 * Check reply headers before anything is written. Returns the offending header name, or
 * undefined when all are writable. Framing fields are allowed here (they are skipped when writing).
 */
export function invalidHeader(headers: ReplyHeaders | undefined): string | undefined {
  if (headers === undefined || headers === null) return undefined;
  if (typeof headers !== 'object') return '(headers)';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (!TOKEN.test(name)) return name;
    if (typeof v === 'string') {
      if (!safeValue(v)) return name;
    } else if (typeof v === 'number') {
      if (!Number.isFinite(v)) return name;
    } else if (Array.isArray(v)) {
      for (const x of v) if (typeof x !== 'string' || !safeValue(x)) return name;
    } else {
      // null, a boolean, an object: not a value (a TypeError here used to become SY_ERR_HANDLER)
      return name;
    }
  }
  return undefined;
}

/**
 * A reply body the engine cannot write: anything but a string, bytes, nothing, or an iterable.
 * (A number or a plain object used to start a chunked response that died on its first read:
 * the client got a closed connection instead of a 500; found by test/responses.test.ts.)
 */
export function invalidBody(body: unknown): boolean {
  if (body === undefined || body === null || typeof body === 'string' || body instanceof Uint8Array)
    return false;
  return typeof body !== 'object' || !(Symbol.asyncIterator in body || Symbol.iterator in body);
}

/** Does the reply ask for `Connection: close`? */
export function wantsClose(headers: ReplyHeaders | undefined): boolean {
  if (headers === undefined) return false;
  const v = headers.connection ?? headers.Connection;
  return typeof v === 'string' && v.toLowerCase().includes('close');
}

/** Write validated headers, skipping framing fields. Call inside cork. */
export function writeHeaders(res: HttpResponse, headers: ReplyHeaders | undefined): void {
  if (headers === undefined) return;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const lower = name.toLowerCase();
    if (isFraming(lower)) continue;
    if (typeof v === 'string') res.writeHeader(lower, v);
    else if (typeof v === 'number') res.writeHeader(lower, String(v));
    else for (const x of v) res.writeHeader(lower, x);
  }
}

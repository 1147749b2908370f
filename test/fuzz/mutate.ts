/**
 * Request mutations for the fuzzer, all driven by a seeded PRNG (the same seed gives the same
 * requests): flipped bytes, inserted CR/LF/NUL and other separators, truncations, duplicated
 * header lines, swapped case, repeated and deleted segments, inserted framing/hop-by-hop headers,
 * odd numbers in place of numbers, and splices of two corpus entries.
 */
import type { Rand } from './prng.js';

const SEPARATORS = [
  '\r',
  '\n',
  '\0',
  '\r\n',
  ' ',
  '\t',
  ':',
  '\r\n\r\n',
  '\x7f',
  '\xff',
  '\x0b',
  '/',
  '?',
  '%',
  '#',
];

const HEADERS = [
  'Content-Length: 0',
  'Content-Length: 3',
  'Content-Length: 99999999999999999999',
  'Content-Length: -1',
  'Content-Length: 1, 1',
  'Content-Length:',
  'Transfer-Encoding: chunked',
  'Transfer-Encoding: gzip, chunked',
  'Transfer-Encoding: chunked, chunked',
  'Transfer-Encoding: identity',
  'Host: other.example',
  'Host:',
  'Connection: close',
  'Connection: upgrade, host',
  'Upgrade: websocket',
  'Expect: 100-continue',
  'X-Forwarded-For: 1.2.3.4, 5.6.7.8',
  'X-Request-Id: \x01bad',
  ': empty-name',
  'Te: trailers',
  'Keep-Alive: timeout=5',
  'Trailer: X-T',
  'Accept: application/json',
  `X-Long: ${'v'.repeat(9000)}`,
];

const NUMBERS = [
  '0',
  '-1',
  '4294967296',
  '99999999999999999999',
  '1e3',
  '0x10',
  ' 5',
  '00000000000000000007',
  '',
];

/** Where the head ends (index of the blank line's CRLF), or the string length. */
function headEnd(s: string): number {
  const i = s.indexOf('\r\n\r\n');
  return i === -1 ? s.length : i;
}

/** Line starts (after each CRLF) inside the head, excluding the request line. */
function headerLineStarts(s: string): number[] {
  const end = headEnd(s);
  const starts: number[] = [];
  for (let i = s.indexOf('\r\n'); i !== -1 && i < end; i = s.indexOf('\r\n', i + 2)) starts.push(i + 2);
  return starts;
}

type Mutation = (s: string, r: Rand, corpus: readonly string[]) => string;

const at = (s: string, r: Rand) => r.int(s.length + 1);

export const MUTATIONS: Record<string, Mutation> = {
  flip(s, r) {
    const i = r.int(s.length);
    const c = r.chance(0.5) ? s.charCodeAt(i) ^ (1 << r.int(8)) : r.int(256);
    return s.slice(0, i) + String.fromCharCode(c) + s.slice(i + 1);
  },
  insertSeparator(s, r) {
    const i = at(s, r);
    return s.slice(0, i) + r.pick(SEPARATORS) + s.slice(i);
  },
  truncate(s, r) {
    return s.slice(0, 1 + r.int(Math.max(1, s.length - 1)));
  },
  duplicateHeader(s, r) {
    const starts = headerLineStarts(s);
    if (starts.length === 0) return s;
    const from = r.pick(starts);
    const to = s.indexOf('\r\n', from);
    const line = s.slice(from, to === -1 ? s.length : to);
    const where = r.pick(starts);
    return `${s.slice(0, where)}${line}\r\n${s.slice(where)}`;
  },
  swapCase(s, r) {
    const i = r.int(s.length);
    const j = Math.min(s.length, i + 1 + r.int(16));
    const seg = s.slice(i, j);
    const swapped = [...seg].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    return s.slice(0, i) + swapped + s.slice(j);
  },
  repeatSegment(s, r) {
    const i = r.int(s.length);
    const j = Math.min(s.length, i + 1 + r.int(32));
    const times = r.chance(0.1) ? r.between(100, 2000) : r.between(2, 16);
    return s.slice(0, j) + s.slice(i, j).repeat(times - 1) + s.slice(j);
  },
  deleteSegment(s, r) {
    const i = r.int(s.length);
    const j = Math.min(s.length, i + 1 + r.int(16));
    return s.slice(0, i) + s.slice(j);
  },
  insertHeader(s, r) {
    const starts = headerLineStarts(s);
    const where = starts.length === 0 ? headEnd(s) : r.pick(starts);
    return `${s.slice(0, where)}${r.pick(HEADERS)}\r\n${s.slice(where)}`;
  },
  oddNumber(s, r) {
    const runs = [...s.matchAll(/\d+/g)];
    if (runs.length === 0) return s;
    const m = r.pick(runs);
    return s.slice(0, m.index) + r.pick(NUMBERS) + s.slice(m.index + m[0].length);
  },
  splice(s, r, corpus) {
    const other = r.pick(corpus);
    return s.slice(0, at(s, r)) + other.slice(r.int(other.length));
  },
};

const NAMES = Object.keys(MUTATIONS);

/** One to three mutations of a random corpus entry (as latin1 text: one char = one byte). */
export function mutate(corpus: readonly string[], r: Rand): { bytes: string; applied: string[] } {
  let s = r.pick(corpus);
  const n = r.chance(0.6) ? 1 : r.chance(0.6) ? 2 : 3;
  const applied: string[] = [];
  for (let k = 0; k < n; k++) {
    const name = r.pick(NAMES);
    applied.push(name);
    s = MUTATIONS[name]!(s, r, corpus);
    if (s.length === 0) s = 'G';
  }
  return { bytes: s, applied };
}

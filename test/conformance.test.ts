/**
 * Conformance: what the built server (`node dist/src/cli.js start`) does with request bytes, good
 * and bad, judged by RFC 9110 / RFC 9112 — not by another proxy's habits. Every case is exact bytes
 * on a fresh socket, and asserts three things:
 *
 * 1. the answer: the statuses of the responses (each parsed strictly: well-framed, no control
 *    characters), or, for a known gap of the uWS parser, `silent` (nothing within 500 ms, scaled
 *    by the machine's pace; the socket still open: uWS closes it with its ≈ 10 s timer, checked
 *    once below) or `reset` (closed well before that timer, not one byte sent);
 * 2. the connection afterwards: a follow-up request on the same socket is answered (`open`), the
 *    server closed it (`closed`), or — a gap — the follow-up is never answered (`unusable`);
 * 3. what the upstream received, recorded byte for byte and parsed strictly
 *    (helpers/recording-upstream.ts): nothing, or exactly the expected requests, each one
 *    well-framed with one of Content-Length / chunked, no hop-by-hop or Connection-named field,
 *    no Transfer-Encoding but chunked, no CR/LF/NUL/CTL in a value, and the normalised path.
 *
 * Known gaps are the rows of SECURITY.md's table "Known gaps of the uWebSockets.js build"; each
 * gap case names its row in `gap`. They are asserted as they behave today, so that a change in
 * uWS (or a workaround of ours) is noticed.
 *
 * Routes: /sync answers synchronously (respond), /sleep is a handler that answers after ?ms=, and
 * everything else is proxied to the recording upstream. Two listeners serve them: the default one
 * (chunked request bodies refused with 411) and one with `chunked_requests: accept`, where the
 * cases marked `listener: 'accept'` show what uWS's chunked decoder does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';
import { type Cli, startCli } from './helpers/cli.js';
import { type Engine, uwsAvailable } from './helpers/engines.js';
import { RawClient, values } from './helpers/raw-client.js';
import {
  type RecordedRequest,
  type RecordingUpstream,
  recordingUpstream,
} from './helpers/recording-upstream.js';
import { absenceWindow, recentPace } from './helpers/timing.js';
import { settle, sleep } from './helpers/wait.js';

type Group =
  | 'framing'
  | 'pipelining'
  | 'header syntax'
  | 'host'
  | 'hop-by-hop'
  | 'target'
  | 'limits'
  | 'expect'
  | 'version and method';

interface Forwarded {
  method: string;
  /** the exact request-target the upstream must see (the normalised path, and the query) */
  target: string;
  body?: string;
  framing?: RecordedRequest['framing'];
  check?(r: RecordedRequest): void;
}

interface Case {
  name: string;
  group: Group;
  /** the bytes (latin1); several strings are written 100 ms apart */
  send: string | string[];
  /** statuses of the responses in order (100 Continue included), or a uWS gap */
  want: number[] | 'silent' | 'reset';
  after: 'open' | 'closed' | 'unusable';
  /**
   * `none`: no request reached the upstream; `cut`: none complete (one may have been cut off by
   * the close before its end, which no origin acts on); or exactly these requests.
   */
  upstream: 'none' | 'cut' | Forwarded[];
  head?: boolean;
  /** a closing answer carries `Connection: close` (default); uWS leaves it out when the client sent it */
  closeHeader?: boolean;
  /** the SECURITY.md gap this case shows (every `silent`, `reset` and `unusable` case has one) */
  gap?: string;
  /** sent to the listener with `chunked_requests: accept` (default: the default listener) */
  listener?: 'accept';
}

const H = 'Host: a\r\n';
const FOLLOW = `GET /sync HTTP/1.1\r\n${H}\r\n`;
const chunked = (method: string, path: string, body: string) =>
  `${method} ${path} HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n${body}`;
const withLength = (method: string, path: string, length: string, body: string, extra = '') =>
  `${method} ${path} HTTP/1.1\r\n${H}${extra}Content-Length: ${length}\r\n\r\n${body}`;
const get = (target: string, extra = '') => `GET ${target} HTTP/1.1\r\n${H}${extra}\r\n`;
const fields = (n: number) => Array.from({ length: n }, (_, i) => `X-F${i}: v\r\n`).join('');

/** A request answered 200 by the upstream, which received exactly `up`. */
function ok(
  name: string,
  group: Group,
  send: string | string[],
  up: Forwarded,
  extra: Partial<Case> = {},
): Case {
  return { name, group, send, want: [200], after: 'open', upstream: [up], ...extra };
}
/** A request Switchyard refuses itself: the status, `Connection: close`, nothing upstream. */
function refused(name: string, group: Group, send: string | string[], status: number): Case {
  return { name, group, send, want: [status], after: 'closed', upstream: 'none' };
}
/** The same case, on the listener that accepts chunked request bodies. */
function onAccept(c: Case): Case {
  return { ...c, listener: 'accept', name: `chunked_requests: accept: ${c.name}` };
}
/** A uWS parser gap (SECURITY.md names `gap`): no response, nothing upstream. */
function gap(
  name: string,
  group: Group,
  send: string | string[],
  want: 'silent' | 'reset',
  why: string,
): Case {
  return {
    name,
    group,
    send,
    want,
    after: want === 'reset' ? 'closed' : 'unusable',
    upstream: 'none',
    gap: why,
  };
}

// SECURITY.md rows, by the words they start with
const G_MALFORMED = 'malformed request line / field line';
const G_LENGTH = 'invalid or huge Content-Length';
const G_CLTE = 'Content-Length + Transfer-Encoding';
const G_CHUNK = 'chunk extensions, bad chunk sizes';
const G_LENIENT_CHUNK = 'with `chunked_requests: accept`: lenient chunked framing';
const G_TRAILERS = 'with `chunked_requests: accept`: trailer fields';
const G_LINES = 'more than 48 header lines';
const G_SPLIT_HEAD = 'a request head over 4 KiB in several reads';
const G_METHOD = 'methods other than the nine';
const G_PIPELINE = 'pipelined requests answered asynchronously';
const G_VERSION = 'HTTP/1.0 and other versions';
const G_TARGET = 'absolute-form, authority-form, `*`';
const G_HOST = 'missing Host';
const G_REFUSED_BODY = 'a refused request whose body breaks uWS framing';
const G_EMPTY_NAME = 'a header with an empty name';
const G_CLOSE_PIPELINE = 'a request pipelined behind an answer that closes';
const G_OBS_TEXT = 'field values with bytes ≥ 0x80';
const G_CONN5 = 'any five-character Connection value';

const cases: Case[] = [
  // --- framing: Content-Length, chunked, and both (RFC 9112 §6, §7) ---------------------------
  ok('a GET without a body', 'framing', get('/f'), { method: 'GET', target: '/f', framing: 'none' }),
  ok('Content-Length: 5', 'framing', withLength('POST', '/f', '5', 'hello'), {
    method: 'POST',
    target: '/f',
    body: 'hello',
    framing: 'length',
  }),
  ok('Content-Length: 0', 'framing', withLength('POST', '/f', '0', ''), {
    method: 'POST',
    target: '/f',
    body: '',
    framing: 'length',
  }),
  // chunked request bodies: refused on the default listener (uWS's decoder smuggles; SECURITY.md)
  refused(
    'chunked, two chunks → 411 (Content-Length required)',
    'framing',
    chunked('POST', '/f', '3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n'),
    411,
  ),
  refused('a GET with a chunked body → 411', 'framing', chunked('GET', '/f', '5\r\nhello\r\n0\r\n\r\n'), 411),
  refused(
    'Transfer-Encoding "Chunked " (case, trailing space) → 411',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: Chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    411,
  ),
  refused(
    'chunked, the body not sent yet → 411',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n`,
    411,
  ),
  onAccept(
    ok('chunked, two chunks', 'framing', chunked('POST', '/f', '3\r\nhel\r\n2\r\nlo\r\n0\r\n\r\n'), {
      method: 'POST',
      target: '/f',
      body: 'hello',
      framing: 'chunked',
    }),
  ),
  onAccept(
    ok('chunk size in upper-case hex', 'framing', chunked('POST', '/f', 'A\r\nhelloworld\r\n0\r\n\r\n'), {
      method: 'POST',
      target: '/f',
      body: 'helloworld',
      framing: 'chunked',
    }),
  ),
  onAccept(
    ok('chunk size with leading zeros', 'framing', chunked('POST', '/f', '0005\r\nhello\r\n0\r\n\r\n'), {
      method: 'POST',
      target: '/f',
      body: 'hello',
      framing: 'chunked',
    }),
  ),
  onAccept(
    ok(
      'Transfer-Encoding "Chunked " (case, trailing space)',
      'framing',
      `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: Chunked \r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
      { method: 'POST', target: '/f', body: 'hello', framing: 'chunked' },
    ),
  ),
  onAccept(
    ok(
      'a GET with a chunked body is forwarded with it',
      'framing',
      chunked('GET', '/f', '5\r\nhello\r\n0\r\n\r\n'),
      {
        method: 'GET',
        target: '/f',
        body: 'hello',
        framing: 'chunked',
      },
    ),
  ),
  ok(
    'a GET with a Content-Length body is forwarded with it',
    'framing',
    withLength('GET', '/f', '5', 'hello'),
    {
      method: 'GET',
      target: '/f',
      body: 'hello',
      framing: 'length',
    },
  ),
  // RFC 9110 §8.6: identical repeated values may be accepted as one
  ok(
    'two identical Content-Length fields: one is forwarded',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 5\r\n\r\nhello`,
    { method: 'POST', target: '/f', body: 'hello', framing: 'length' },
  ),
  ok('Content-Length with trailing whitespace', 'framing', withLength('POST', '/f', '5  ', 'hello'), {
    method: 'POST',
    target: '/f',
    body: 'hello',
    framing: 'length',
  }),
  refused(
    'two different Content-Length fields → 400',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Content-Length: 5\r\nContent-Length: 3\r\n\r\nhello`,
    400,
  ),
  refused('an empty Content-Length → 400', 'framing', `POST /f HTTP/1.1\r\n${H}Content-Length:\r\n\r\n`, 400),
  refused(
    'Transfer-Encoding: gzip (chunked not last) → 400',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n`,
    400,
  ),
  refused(
    'Transfer-Encoding: identity → 400',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n`,
    400,
  ),
  refused(
    'Transfer-Encoding: xchunked → 400',
    'framing',
    chunked('POST', '/f', '5\r\nhello\r\n0\r\n\r\n').replace('chunked', 'xchunked'),
    400,
  ),
  refused(
    'Transfer-Encoding: gzip, chunked → 501',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    501,
  ),
  gap(
    'Content-Length then Transfer-Encoding',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'reset',
    G_CLTE,
  ),
  gap(
    'Transfer-Encoding then Content-Length',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n`,
    'reset',
    G_CLTE,
  ),
  gap('Content-Length "5, 5"', 'framing', withLength('POST', '/f', '5, 5', 'hello'), 'reset', G_LENGTH),
  gap('Content-Length -1', 'framing', withLength('POST', '/f', '-1', 'hello'), 'reset', G_LENGTH),
  gap('Content-Length 0x5', 'framing', withLength('POST', '/f', '0x5', 'hello'), 'reset', G_LENGTH),
  gap('Content-Length +5', 'framing', withLength('POST', '/f', '+5', 'hello'), 'reset', G_LENGTH),
  gap(
    'Content-Length of 20 digits',
    'framing',
    withLength('POST', '/f', '99999999999999999999', 'hello'),
    'reset',
    G_LENGTH,
  ),
  gap(
    'Content-Length 10^9 (over the body cap: RFC wants 413)',
    'framing',
    withLength('POST', '/f', '1000000000', 'hello'),
    'reset',
    G_LENGTH,
  ),
  gap(
    'Transfer-Encoding: gzip with a body: uWS reads it as chunked and closes before our 400 is out',
    'framing',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\nhello`,
    'reset',
    G_REFUSED_BODY,
  ),
  gap(
    'chunk extension "5;ext=1" (RFC 9112 §7.1.1: ignore it)',
    'framing',
    chunked('POST', '/f', '5;ext=1\r\nhello\r\n0\r\n\r\n'),
    'reset',
    G_CHUNK,
  ),
  gap(
    'chunk extension on the last chunk',
    'framing',
    chunked('POST', '/f', '5\r\nhello\r\n0;x=y\r\n\r\n'),
    'reset',
    G_CHUNK,
  ),
  gap(
    'chunk size ffffffffffffffffff (overflow)',
    'framing',
    chunked('POST', '/f', 'ffffffffffffffffff\r\nhello\r\n0\r\n\r\n'),
    'reset',
    G_CHUNK,
  ),
  gap(
    'chunk size 10000000000000005 (wraps to 5 in 64 bits)',
    'framing',
    chunked('POST', '/f', '10000000000000005\r\nhello\r\n0\r\n\r\n'),
    'reset',
    G_CHUNK,
  ),
  gap('negative chunk size', 'framing', chunked('POST', '/f', '-5\r\nhello\r\n0\r\n\r\n'), 'reset', G_CHUNK),
  gap('chunk size 0x5', 'framing', chunked('POST', '/f', '0x5\r\nhello\r\n0\r\n\r\n'), 'reset', G_CHUNK),
  // uWS reads `g` as 16 and waits for the data: our 411 is out first
  refused('non-hex chunk size → 411', 'framing', chunked('POST', '/f', 'g\r\nhello\r\n0\r\n\r\n'), 411),
  onAccept(
    gap('non-hex chunk size', 'framing', chunked('POST', '/f', 'g\r\nhello\r\n0\r\n\r\n'), 'silent', G_CHUNK),
  ),
  // the lenient framings below reach a track only with `chunked_requests: accept`
  refused(
    'chunk size followed by a space → 411',
    'framing',
    chunked('POST', '/f', '5 \r\nhello\r\n0\r\n\r\n'),
    411,
  ),
  refused('chunk lines ended by bare LF → 411', 'framing', chunked('POST', '/f', '5\nhello\n0\n\n'), 411),
  refused(
    'chunk data longer than its size → 411',
    'framing',
    chunked('POST', '/f', '3\r\nhello\r\n0\r\n\r\n'),
    411,
  ),
  refused('an empty chunk-size line → 411', 'framing', chunked('POST', '/f', '\r\nhello\r\n0\r\n\r\n'), 411),
  refused(
    'trailer fields after the last chunk → 411',
    'framing',
    chunked('POST', '/f', '5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n'),
    411,
  ),
  // uWS accepts these; what reaches the upstream is re-framed and well-formed, but see
  // test/smuggling.test.ts for what the same leniency lets through
  onAccept(
    ok(
      'chunk size followed by a space (no BWS allowed there)',
      'framing',
      chunked('POST', '/f', '5 \r\nhello\r\n0\r\n\r\n'),
      { method: 'POST', target: '/f', body: 'hello', framing: 'chunked' },
      { gap: G_LENIENT_CHUNK },
    ),
  ),
  onAccept(
    ok(
      'chunk lines ended by bare LF',
      'framing',
      chunked('POST', '/f', '5\nhello\n0\n\n'),
      { method: 'POST', target: '/f', body: 'hello', framing: 'chunked' },
      { after: 'unusable', gap: G_LENIENT_CHUNK },
    ),
  ),
  onAccept(
    ok(
      'chunk data longer than its size (two bytes skipped unchecked)',
      'framing',
      chunked('POST', '/f', '3\r\nhello\r\n0\r\n\r\n'),
      { method: 'POST', target: '/f', body: 'hel', framing: 'chunked' },
      { after: 'unusable', gap: G_LENIENT_CHUNK },
    ),
  ),
  onAccept(
    ok(
      'an empty chunk-size line ends the body',
      'framing',
      chunked('POST', '/f', '\r\nhello\r\n0\r\n\r\n'),
      { method: 'POST', target: '/f', body: '', framing: 'length' },
      { after: 'unusable', gap: G_LENIENT_CHUNK },
    ),
  ),
  onAccept(
    ok(
      'trailer fields: the body is read, the connection is lost',
      'framing',
      chunked('POST', '/f', '5\r\nhello\r\n0\r\nX-Trailer: t\r\n\r\n'),
      {
        method: 'POST',
        target: '/f',
        body: 'hello',
        framing: 'chunked',
        check: (r) => expect(r.trailers).toEqual([]),
      },
      { after: 'unusable', gap: G_TRAILERS },
    ),
  ),

  // --- pipelining ---------------------------------------------------------------------------
  {
    name: 'two synchronous requests in one write',
    group: 'pipelining',
    send: FOLLOW + FOLLOW,
    want: [200, 200],
    after: 'open',
    upstream: 'none',
  },
  {
    name: 'three synchronous requests in one write',
    group: 'pipelining',
    send: FOLLOW + FOLLOW + FOLLOW,
    want: [200, 200, 200],
    after: 'open',
    upstream: 'none',
  },
  {
    name: 'synchronous then proxied',
    group: 'pipelining',
    send: FOLLOW + get('/p2'),
    want: [200, 200],
    after: 'open',
    upstream: [{ method: 'GET', target: '/p2' }],
  },
  {
    name: 'two proxied requests in one write',
    group: 'pipelining',
    send: get('/p1') + get('/p2'),
    want: 'reset',
    after: 'closed',
    upstream: 'cut',
    gap: G_PIPELINE,
  },
  {
    name: 'three proxied requests in one write',
    group: 'pipelining',
    send: get('/p1') + get('/p2') + get('/p3'),
    want: 'reset',
    after: 'closed',
    upstream: 'cut',
    gap: G_PIPELINE,
  },
  {
    name: 'proxied then synchronous',
    group: 'pipelining',
    send: get('/p1') + FOLLOW,
    want: 'reset',
    after: 'closed',
    upstream: 'cut',
    gap: G_PIPELINE,
  },
  {
    name: 'two async handler requests in one write',
    group: 'pipelining',
    send: get('/sleep?ms=30') + get('/sleep?ms=30'),
    want: 'reset',
    after: 'closed',
    upstream: 'none',
    gap: G_PIPELINE,
  },
  {
    name: 'a proxied POST with its body, then a GET',
    group: 'pipelining',
    send: withLength('POST', '/p1', '5', 'hello') + FOLLOW,
    want: 'reset',
    after: 'closed',
    upstream: 'cut',
    gap: G_PIPELINE,
  },
  {
    name: 'Content-Length shorter than the data: the rest is a bad request line',
    group: 'pipelining',
    send: withLength('POST', '/f', '3', 'hello') + FOLLOW,
    want: 'reset',
    after: 'closed',
    upstream: 'cut',
    gap: G_METHOD,
  },
  // Regression (uWS forgets the close of an answer when a request follows in the same read, and
  // dispatched it: a refused request smuggled a second one to the upstream). Ours are now written
  // a loop turn later, so uWS finds them pending and closes instead: nothing answered, nothing
  // forwarded. In a later read, the refusal arrives and the connection closes (`refused` cases).
  gap(
    'differing Content-Length (0 and 41), then a request hidden in the "body"',
    'pipelining',
    `POST /sync HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 41\r\n\r\n${get('/p/smuggled')}`,
    'reset',
    G_CLOSE_PIPELINE,
  ),
  gap(
    'two Host fields, then a request',
    'pipelining',
    `GET /sync HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n${get('/p/smuggled')}`,
    'reset',
    G_CLOSE_PIPELINE,
  ),
  gap(
    'a path above the root, then a request',
    'pipelining',
    get('/../x') + get('/p/smuggled'),
    'reset',
    G_CLOSE_PIPELINE,
  ),
  gap(
    'an empty Content-Length, then a request',
    'pipelining',
    `POST /f HTTP/1.1\r\n${H}Content-Length:\r\n\r\n${get('/p/smuggled')}`,
    'reset',
    G_CLOSE_PIPELINE,
  ),
  gap(
    'Transfer-Encoding: gzip with an empty chunked body, then a request',
    'pipelining',
    `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n0\r\n\r\n${get('/p/smuggled')}`,
    'reset',
    G_CLOSE_PIPELINE,
  ),
  // Under a route's 1 KiB cap, so that the head, the body and the next request are one segment and
  // one read. Over the listener's 64 KiB cap they were two, and on a busy machine uWS could read the
  // refusal's head alone: then the 413 is written (closing) before the next request arrives, which
  // is not the case this one is about.
  gap(
    'a body over the cap (413), then a request',
    'pipelining',
    withLength('POST', '/capped', '2000', 'b'.repeat(2000)) + get('/p/smuggled'),
    'reset',
    G_CLOSE_PIPELINE,
  ),
  gap(
    'a synchronous answer with the body unread, then a request',
    'pipelining',
    withLength('POST', '/sync', '5', 'hello') + get('/p/after'),
    'reset',
    G_CLOSE_PIPELINE,
  ),
  // Regression (RFC 9112 §9.6: after the client's close, no further request may be processed;
  // uWS answered the pipelined one too)
  gap(
    'Connection: close, then a request in the same read',
    'pipelining',
    get('/sync', 'Connection: close\r\n') + get('/p/after-close'),
    'reset',
    G_CLOSE_PIPELINE,
  ),
  // Regression: a HEAD answer that closes said so in a header but left the connection open, so the
  // next read was parsed as a request (here: what a front proxy that trusts the second length
  // would have sent as the body). Now uWS closes it, with Content-Length: 0.
  {
    ...refused(
      'HEAD with differing Content-Length (0 and 41), then a request in a later read: 400, closed',
      'pipelining',
      [`HEAD /sync HTTP/1.1\r\n${H}Content-Length: 0\r\nContent-Length: 41\r\n\r\n`, get('/p/smuggled')],
      400,
    ),
    head: true,
  },
  {
    ...refused('HEAD above the root → 400, closed', 'target', `HEAD /.. HTTP/1.1\r\n${H}\r\n`, 400),
    head: true,
  },
  refused(
    'two Host fields, then a request in a later read: 400, closed',
    'pipelining',
    [`GET /sync HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, get('/p/smuggled')],
    400,
  ),

  // --- header syntax (RFC 9112 §5, RFC 9110 §5.5) ----------------------------------------------
  gap(
    'obs-fold (line folding; RFC: 400 or replace with SP)',
    'header syntax',
    get('/f', 'X-A: a\r\n b\r\n'),
    'silent',
    G_MALFORMED,
  ),
  gap('obs-fold with a tab', 'header syntax', get('/f', 'X-A: a\r\n\tb\r\n'), 'silent', G_MALFORMED),
  gap(
    'whitespace before the colon: "Host : a" (RFC 9112 §5.1: 400)',
    'header syntax',
    `GET /f HTTP/1.1\r\nHost : a\r\n\r\n`,
    'silent',
    G_MALFORMED,
  ),
  gap(
    'whitespace before the colon of another field',
    'header syntax',
    get('/f', 'X-A : b\r\n'),
    'silent',
    G_MALFORMED,
  ),
  gap('a field name with "("', 'header syntax', get('/f', 'X(A): b\r\n'), 'silent', G_MALFORMED),
  gap('a field name with a space', 'header syntax', get('/f', 'X A: b\r\n'), 'silent', G_MALFORMED),
  gap('a field name with "@"', 'header syntax', get('/f', 'X@A: b\r\n'), 'silent', G_MALFORMED),
  gap(
    'a field name with a UTF-8 byte',
    'header syntax',
    get('/f', 'X\xc3\xa9: b\r\n'),
    'silent',
    G_MALFORMED,
  ),
  gap('a field line without a colon', 'header syntax', get('/f', 'NoColon\r\n'), 'silent', G_MALFORMED),
  gap('NUL in a value', 'header syntax', get('/f', 'X-A: a\x00b\r\n'), 'silent', G_MALFORMED),
  gap('bare CR in a value', 'header syntax', get('/f', 'X-A: a\rb\r\n'), 'silent', G_MALFORMED),
  gap('bare LF inside a value', 'header syntax', get('/f', 'X-A: a\nb\r\n'), 'silent', G_MALFORMED),
  gap('\\x01 in a value', 'header syntax', get('/f', 'X-A: a\x01b\r\n'), 'silent', G_MALFORMED),
  gap(
    'lines ended by bare LF',
    'header syntax',
    `GET /f HTTP/1.1\nHost: a\nX-A: b\n\n`,
    'silent',
    G_MALFORMED,
  ),
  gap(
    'whitespace before the first field line',
    'header syntax',
    `GET /f HTTP/1.1\r\n Host: a\r\n\r\n`,
    'silent',
    G_MALFORMED,
  ),
  gap(
    'an empty line before the request line (RFC 9112 §2.2: should be ignored)',
    'header syntax',
    `\r\n${get('/f')}`,
    'silent',
    G_MALFORMED,
  ),
  ok(
    'an empty field name ends the field list: later fields are invisible',
    'header syntax',
    get('/f', ': x\r\nX-After: 1\r\n'),
    { method: 'GET', target: '/f', check: (r) => expect(r.fields.map(([k]) => k)).not.toContain('x-after') },
    { gap: G_EMPTY_NAME },
  ),
  // Regression: uWS passes DEL; the proxy dropped the field silently (an If-Match dropped makes a
  // PUT unconditional). RFC 9110 §5.5: invalid; a downstream parser follows, so refuse.
  {
    name: 'DEL in a value → 400 from the proxy, nothing forwarded',
    group: 'header syntax',
    send: get('/f', 'X-A: a\x7fb\r\n'),
    want: [400],
    after: 'open',
    upstream: 'none',
  },
  refused(
    'DEL in If-Match of a PUT with a body → 400, closed',
    'header syntax',
    withLength('PUT', '/f', '5', 'hello', 'If-Match: "v1\x7f"\r\n'),
    400,
  ),
  ok(
    'a value ending in UTF-8 bytes loses them',
    'header syntax',
    get('/f', 'X-A: caf\xc3\xa9\r\n'),
    { method: 'GET', target: '/f', check: (r) => expect(field(r, 'x-a')).toBe('caf') },
    { gap: G_OBS_TEXT },
  ),
  ok(
    'invalid UTF-8 in a value reaches the upstream as U+FFFD',
    'header syntax',
    get('/f', 'X-A: a\xffb\r\n'),
    { method: 'GET', target: '/f', check: (r) => expect(field(r, 'x-a')).toBe('a\xef\xbf\xbdb') },
    { gap: G_OBS_TEXT },
  ),
  ok(
    'an empty field name hides a later Content-Length: the body is read as the next request',
    'header syntax',
    `POST /f HTTP/1.1\r\n${H}: x\r\nContent-Length: 5\r\n\r\nhello`,
    { method: 'POST', target: '/f', body: '', framing: 'length' },
    { after: 'unusable', gap: G_EMPTY_NAME },
  ),
  ok('a tab inside a value is kept', 'header syntax', get('/f', 'X-A: a\tb\r\n'), {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'x-a')).toBe('a\tb'),
  }),
  ok('a field name of 3,000 bytes is forwarded', 'header syntax', get('/f', `${'N'.repeat(3000)}: v\r\n`), {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'n'.repeat(3000))).toBe('v'),
  }),

  // --- Host (RFC 9112 §3.2, RFC 9110 §7.2) -----------------------------------------------------
  gap('no Host field (RFC: 400)', 'host', `GET /f HTTP/1.1\r\n\r\n`, 'silent', G_HOST),
  refused('two Host fields → 400', 'host', `GET /f HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n`, 400),
  refused('two identical Host fields → 400', 'host', `GET /f HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n`, 400),
  refused('an empty Host → 400', 'host', `GET /f HTTP/1.1\r\nHost:\r\n\r\n`, 400),
  // Regression: any value was accepted and passed on (to routing, `$host` in redirects, the
  // upstream); RFC 9112 §3.2 wants 400 for a Host that is not uri-host [":" port]
  refused('Host "a b" → 400', 'host', `GET /f HTTP/1.1\r\nHost: a b\r\n\r\n`, 400),
  refused('Host "a/b" → 400', 'host', `GET /f HTTP/1.1\r\nHost: a/b\r\n\r\n`, 400),
  refused('Host with userinfo "user@a" → 400', 'host', `GET /f HTTP/1.1\r\nHost: user@a\r\n\r\n`, 400),
  refused('Host with a bad port "a:80x" → 400', 'host', `GET /f HTTP/1.1\r\nHost: a:80x\r\n\r\n`, 400),
  refused('Host "a, b" → 400', 'host', `GET /f HTTP/1.1\r\nHost: a, b\r\n\r\n`, 400),
  refused('Host with a quote → 400', 'host', `GET /f HTTP/1.1\r\nHost: a"b\r\n\r\n`, 400),
  ok('Host in punycode', 'host', `GET /f HTTP/1.1\r\nHost: xn--caf-dma.example\r\n\r\n`, {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'host')).toBe('xn--caf-dma.example'),
  }),
  ok('Host with an empty port (RFC 3986: port = *DIGIT)', 'host', `GET /f HTTP/1.1\r\nHost: a:\r\n\r\n`, {
    method: 'GET',
    target: '/f',
  }),
  ok('Host with a port', 'host', `GET /f HTTP/1.1\r\nHost: a.example:8080\r\n\r\n`, {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'host')).toBe('a.example:8080'),
  }),
  ok('Host as an IPv6 literal with a port', 'host', `GET /f HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n`, {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'host')).toBe('[::1]:8080'),
  }),
  ok('Host as an IPv4 address', 'host', `GET /f HTTP/1.1\r\nHost: 10.0.0.1\r\n\r\n`, {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'host')).toBe('10.0.0.1'),
  }),

  // --- hop-by-hop (RFC 9110 §7.6.1) ------------------------------------------------------------
  // RFC 9112 §9.6: the server closes after answering; uWS omits the (SHOULD) Connection: close
  // in its answer when the client's value is exactly five characters long
  {
    name: 'Connection: close (proxied): answered, then closed',
    group: 'hop-by-hop',
    send: get('/f', 'Connection: close\r\n'),
    want: [200],
    after: 'closed',
    closeHeader: false,
    upstream: [{ method: 'GET', target: '/f' }],
  },
  {
    name: 'Connection: close (synchronous): answered, then closed',
    group: 'hop-by-hop',
    send: get('/sync', 'Connection: close\r\n'),
    want: [200],
    after: 'closed',
    closeHeader: false,
    upstream: 'none',
  },
  {
    name: 'Connection: xclos (five characters, not a close option): uWS closes anyway',
    group: 'hop-by-hop',
    send: get('/sync', 'Connection: xclos\r\n'),
    want: [200],
    after: 'closed',
    closeHeader: false,
    upstream: 'none',
    gap: G_CONN5,
  },
  {
    name: 'Connection: keep-alive, Close: answered with Connection: close, then closed',
    group: 'hop-by-hop',
    send: get('/sync', 'Connection: keep-alive, Close\r\n'),
    want: [200],
    after: 'closed',
    upstream: 'none',
  },
  {
    name: 'HEAD with Connection: close: closed (with Content-Length: 0, see endHead)',
    group: 'hop-by-hop',
    send: `HEAD /sync HTTP/1.1\r\n${H}Connection: close\r\n\r\n`,
    want: [200],
    after: 'closed',
    closeHeader: false,
    head: true,
    upstream: 'none',
  },
  ok(
    'Connection: keep-alive, x-secret: X-Secret is not forwarded',
    'hop-by-hop',
    get('/f', 'Connection: keep-alive, x-secret\r\nX-Secret: 1\r\n'),
    { method: 'GET', target: '/f', check: noField('x-secret') },
  ),
  ok(
    'a name in a second Connection field is dropped too',
    'hop-by-hop',
    get('/f', 'Connection: keep-alive\r\nConnection: X-Secret\r\nX-Secret: 1\r\n'),
    { method: 'GET', target: '/f', check: noField('x-secret') },
  ),
  ok('Connection: cookie drops Cookie', 'hop-by-hop', get('/f', 'Connection: cookie\r\nCookie: a=1\r\n'), {
    method: 'GET',
    target: '/f',
    check: noField('cookie'),
  }),
  ok(
    'Connection: content-length cannot remove the framing',
    'hop-by-hop',
    withLength('POST', '/f', '5', 'hello', 'Connection: content-length\r\n'),
    { method: 'POST', target: '/f', body: 'hello', framing: 'length' },
  ),
  ok(
    'Keep-Alive, TE, Trailer, Proxy-Connection are dropped',
    'hop-by-hop',
    get('/f', 'Keep-Alive: timeout=5\r\nTE: trailers\r\nTrailer: X-T\r\nProxy-Connection: keep-alive\r\n'),
    { method: 'GET', target: '/f' },
  ),
  ok(
    'Upgrade: websocket is not forwarded',
    'hop-by-hop',
    get('/f', 'Connection: Upgrade\r\nUpgrade: websocket\r\n'),
    { method: 'GET', target: '/f', check: noField('upgrade') },
  ),
  ok(
    'Upgrade: h2c and HTTP2-Settings are not forwarded',
    'hop-by-hop',
    get('/f', 'Connection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAAP__\r\n'),
    { method: 'GET', target: '/f', check: noField('http2-settings') },
  ),
  ok('Proxy-Authorization is not forwarded', 'hop-by-hop', get('/f', 'Proxy-Authorization: Basic eA==\r\n'), {
    method: 'GET',
    target: '/f',
    check: noField('proxy-authorization'),
  }),
  ok(
    'X-Forwarded-For / Forwarded / X-Real-IP from an untrusted client are replaced or dropped',
    'hop-by-hop',
    get('/f', 'X-Forwarded-For: 1.2.3.4\r\nForwarded: for=1.2.3.4\r\nX-Real-IP: 1.2.3.4\r\n'),
    {
      method: 'GET',
      target: '/f',
      check: (r) => {
        expect(field(r, 'x-forwarded-for')).toBe('127.0.0.1');
        noField('forwarded')(r);
        noField('x-real-ip')(r);
      },
    },
  ),

  // --- request targets (RFC 9112 §3.2, RFC 3986 §5.2.4) ----------------------------------------
  ok('dot segments are resolved', 'target', get('/a/./b/../c'), { method: 'GET', target: '/a/c' }),
  ok('%2e%2e is a dot segment', 'target', get('/a/%2e%2e/b'), { method: 'GET', target: '/b' }),
  ok('%2E%2e, mixed case', 'target', get('/a/%2E%2e/b'), { method: 'GET', target: '/b' }),
  ok('.%2e, half encoded', 'target', get('/a/.%2e/b'), { method: 'GET', target: '/b' }),
  ok('// is merged', 'target', get('//a//b'), { method: 'GET', target: '/a/b' }),
  ok('%2f is kept encoded (upper-cased), not a separator', 'target', get('/a/%2f/b'), {
    method: 'GET',
    target: '/a/%2F/b',
  }),
  ok('..%2f inside a segment is not a dot segment', 'target', get('/a%2f..%2fb'), {
    method: 'GET',
    target: '/a%2F..%2Fb',
  }),
  ok('%23 is kept', 'target', get('/a%23b'), { method: 'GET', target: '/a%23b' }),
  ok('encoded UTF-8 is kept', 'target', get('/caf%C3%A9'), { method: 'GET', target: '/caf%C3%A9' }),
  ok('the query is passed as sent', 'target', get('/a?x=%00&y=1'), { method: 'GET', target: '/a?x=%00&y=1' }),
  ok('an empty query is dropped', 'target', get('/a?'), { method: 'GET', target: '/a' }),
  refused('/.. climbs above the root → 400', 'target', get('/..'), 400),
  refused('%2e%2e climbing above the root → 400', 'target', get('/a/%2e%2e/%2e%2e/b'), 400),
  refused('a backslash → 400', 'target', get('/a\\b'), 400),
  refused('%5c → 400', 'target', get('/a%5cb'), 400),
  refused('a fragment → 400', 'target', get('/a#frag'), 400),
  refused('%00 → 400', 'target', get('/a%00b'), 400),
  refused('DEL → 400', 'target', get('/a\x7fb'), 400),
  refused('raw UTF-8 → 400', 'target', get('/caf\xc3\xa9'), 400),
  refused('a malformed escape → 400', 'target', get('/a%zz'), 400),
  refused('a truncated escape → 400', 'target', get('/a%2'), 400),
  // the proxy refuses a query it cannot send verbatim (after routing: the request was read whole,
  // so the connection stays usable)
  {
    name: 'a fragment after the query → 400 from the proxy',
    group: 'target',
    send: get('/a?x=1#frag'),
    want: [400],
    after: 'open',
    upstream: 'none',
  },
  {
    name: 'raw UTF-8 in the query → 400 from the proxy',
    group: 'target',
    send: get('/a?x=\xc3\xa9'),
    want: [400],
    after: 'open',
    upstream: 'none',
  },
  gap('NUL in the path', 'target', get('/a\x00b'), 'silent', G_MALFORMED),
  gap('\\x01 in the path', 'target', get('/a\x01b'), 'silent', G_MALFORMED),
  gap('a tab in the path', 'target', get('/a\tb'), 'silent', G_MALFORMED),
  gap('\\x01 in the query', 'target', get('/a?x=\x01'), 'silent', G_MALFORMED),
  gap('a space in the target', 'target', get('/a b'), 'silent', G_MALFORMED),
  gap('an empty target', 'target', `GET  HTTP/1.1\r\n${H}\r\n`, 'silent', G_MALFORMED),
  gap('a target without the leading slash', 'target', get('f'), 'silent', G_MALFORMED),
  gap(
    'absolute-form http://a/f (RFC 9112 §3.2.2: must be accepted)',
    'target',
    get('http://a/f'),
    'silent',
    G_TARGET,
  ),
  gap('absolute-form to another host', 'target', get('https://evil/f'), 'silent', G_TARGET),
  gap('asterisk-form with GET', 'target', get('*'), 'silent', G_TARGET),
  gap('OPTIONS *', 'target', `OPTIONS * HTTP/1.1\r\n${H}\r\n`, 'silent', G_TARGET),
  gap(
    'CONNECT a:443 (authority-form)',
    'target',
    `CONNECT a:443 HTTP/1.1\r\nHost: a:443\r\n\r\n`,
    'silent',
    G_TARGET,
  ),

  // --- limits (defaults: uri 8 KiB, header_bytes 16 KiB, headers 100; body 64 KiB here) ------
  ok('a target of exactly 8 KiB', 'limits', get(`/${'p'.repeat(8191)}`), {
    method: 'GET',
    target: `/${'p'.repeat(8191)}`,
  }),
  refused('a target of 8 KiB + 1 → 414', 'limits', get(`/${'p'.repeat(8192)}`), 414),
  // (in one read: loopback segments are 64 KiB)
  refused('a target of 60 KB → 414', 'limits', get(`/${'p'.repeat(60_000)}`), 414),
  ok('a 15 KB field value', 'limits', get('/f', `X-Big: ${'v'.repeat(15_000)}\r\n`), {
    method: 'GET',
    target: '/f',
  }),
  refused('a 17 KB field value → 431', 'limits', get('/f', `X-Big: ${'v'.repeat(17_000)}\r\n`), 431),
  gap(
    'a 100 KB field value in two reads',
    'limits',
    [`GET /f HTTP/1.1\r\n${H}X-Big: ${'v'.repeat(50_000)}`, `${'v'.repeat(50_000)}\r\n\r\n`],
    'reset',
    G_SPLIT_HEAD,
  ),
  ok('48 field lines (uWS limit)', 'limits', get('/f', fields(47)), {
    method: 'GET',
    target: '/f',
    check: (r) => expect(field(r, 'x-f46')).toBe('v'),
  }),
  gap('49 field lines (RFC: 431)', 'limits', get('/f', fields(48)), 'silent', G_LINES),
  gap('200 field lines', 'limits', get('/f', fields(199)), 'silent', G_LINES),
  ok(
    'a 4,000-byte head in two reads',
    'limits',
    [`GET /f HTTP/1.1\r\n${H}X-A: ${'a'.repeat(2000)}`, `${'b'.repeat(1900)}\r\n\r\n`],
    { method: 'GET', target: '/f' },
  ),
  gap(
    'a 4,200-byte head in two reads (RFC: 431 at most)',
    'limits',
    [`GET /f HTTP/1.1\r\n${H}X-A: ${'a'.repeat(2000)}`, `${'b'.repeat(2200)}\r\n\r\n`],
    'reset',
    G_SPLIT_HEAD,
  ),
  ok('a body of exactly the cap', 'limits', withLength('POST', '/f', '65536', 'b'.repeat(65536)), {
    method: 'POST',
    target: '/f',
    body: 'b'.repeat(65536),
    framing: 'length',
  }),
  refused(
    'Content-Length over the cap → 413 before the body',
    'limits',
    withLength('POST', '/f', '70000', 'b'.repeat(100)),
    413,
  ),
  // the proxy may have begun to stream the body: the upstream sees it cut off, never complete
  onAccept({
    ...refused(
      'a chunked body crossing the cap → 413',
      'limits',
      chunked('POST', '/f', `${`4000\r\n${'z'.repeat(0x4000)}\r\n`.repeat(5)}0\r\n\r\n`),
      413,
    ),
    upstream: 'cut',
  }),
  onAccept({
    ...refused(
      'one chunk larger than the cap → 413',
      'limits',
      chunked('POST', '/f', `11000\r\n${'z'.repeat(0x11000)}\r\n0\r\n\r\n`),
      413,
    ),
    upstream: 'cut',
  }),
  refused(
    'a refused request with a body: 414, closed',
    'limits',
    withLength('POST', `/${'p'.repeat(8192)}`, '5', 'hello'),
    414,
  ),

  // --- Expect (RFC 9110 §10.1.1): uWS answers 100 Continue itself, always -----------------------
  {
    name: 'Expect: 100-continue, body after the 100',
    group: 'expect',
    send: [withLength('POST', '/f', '5', '', 'Expect: 100-continue\r\n'), 'hello'],
    want: [100, 200],
    after: 'open',
    upstream: [{ method: 'POST', target: '/f', body: 'hello', framing: 'length' }],
  },
  {
    name: 'Expect: 100-continue, body sent at once',
    group: 'expect',
    send: withLength('POST', '/f', '5', 'hello', 'Expect: 100-continue\r\n'),
    want: [100, 200],
    after: 'open',
    upstream: [{ method: 'POST', target: '/f', body: 'hello', framing: 'length' }],
  },
  {
    name: 'Expect: 100-continue with a chunked body: 100 (uWS), then 411',
    group: 'expect',
    send: `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n`,
    want: [100, 411],
    after: 'closed',
    upstream: 'none',
  },
  onAccept({
    name: 'Expect: 100-continue with a chunked body',
    group: 'expect',
    send: [
      `POST /f HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n`,
      '5\r\nhello\r\n0\r\n\r\n',
    ],
    want: [100, 200],
    after: 'open',
    upstream: [{ method: 'POST', target: '/f', body: 'hello', framing: 'chunked' }],
  }),
  // RFC 9110 §10.1.1 lets a server answer the final status instead: uWS sends 100 first anyway
  {
    name: 'Expect: 100-continue over the body cap: 100, then 413',
    group: 'expect',
    send: [withLength('POST', '/f', '70000', '', 'Expect: 100-continue\r\n'), 'hello'],
    want: [100, 413],
    after: 'closed',
    upstream: 'none',
  },
  {
    name: 'Expect: 100-continue on a synchronous route: 100, 200, closed (body unread)',
    group: 'expect',
    send: [withLength('POST', '/sync', '5', '', 'Expect: 100-continue\r\n'), 'hello'],
    want: [100, 200],
    after: 'closed',
    upstream: 'none',
  },
  {
    // Two 100s: uWS writes one per route handler it runs, and a GET passes the WebSocket route
    // (app.ws, src/server/uws/ws.ts) before the catch-all. RFC 9110 §15.2: a client must accept
    // any number of 1xx responses before the final one.
    name: 'Expect: 100-continue on a GET',
    group: 'expect',
    send: get('/f', 'Expect: 100-continue\r\n'),
    want: [100, 100, 200],
    after: 'open',
    upstream: [{ method: 'GET', target: '/f' }],
  },
  ok(
    'Expect: something-else is ignored (417 is a MAY) and not forwarded',
    'expect',
    withLength('POST', '/f', '5', 'hello', 'Expect: something\r\n'),
    { method: 'POST', target: '/f', body: 'hello', framing: 'length' },
  ),

  // --- versions and methods --------------------------------------------------------------------
  gap('HTTP/1.0', 'version and method', `GET /f HTTP/1.0\r\n${H}\r\n`, 'silent', G_VERSION),
  gap('HTTP/1.0 without Host', 'version and method', `GET /f HTTP/1.0\r\n\r\n`, 'silent', G_VERSION),
  gap(
    'HTTP/1.0 with keep-alive',
    'version and method',
    `GET /f HTTP/1.0\r\n${H}Connection: keep-alive\r\n\r\n`,
    'silent',
    G_VERSION,
  ),
  gap(
    'HTTP/2.0 (RFC 9112 §2.3: 505)',
    'version and method',
    `GET /f HTTP/2.0\r\n${H}\r\n`,
    'silent',
    G_VERSION,
  ),
  gap(
    'HTTP/1.2 (RFC 9110 §2.5: serve as 1.1)',
    'version and method',
    `GET /f HTTP/1.2\r\n${H}\r\n`,
    'silent',
    G_VERSION,
  ),
  gap('http/1.1 in lower case', 'version and method', `GET /f http/1.1\r\n${H}\r\n`, 'silent', G_VERSION),
  gap('HTTP/0.9 (no version)', 'version and method', `GET /f\r\n\r\n`, 'silent', G_VERSION),
  gap(
    'lower-case method "get" (methods are case-sensitive: RFC wants 501)',
    'version and method',
    `get /f HTTP/1.1\r\n${H}\r\n`,
    'reset',
    G_METHOD,
  ),
  gap(
    'unknown method FOO (RFC: 501)',
    'version and method',
    `FOO /f HTTP/1.1\r\n${H}\r\n`,
    'reset',
    G_METHOD,
  ),
  gap('PROPFIND', 'version and method', `PROPFIND /f HTTP/1.1\r\n${H}\r\n`, 'reset', G_METHOD),
  gap('a method with "("', 'version and method', `GE(T /f HTTP/1.1\r\n${H}\r\n`, 'reset', G_METHOD),
  ok('PUT', 'version and method', withLength('PUT', '/f', '2', 'hi'), {
    method: 'PUT',
    target: '/f',
    body: 'hi',
    framing: 'length',
  }),
  ok('PATCH', 'version and method', withLength('PATCH', '/f', '2', 'hi'), {
    method: 'PATCH',
    target: '/f',
    body: 'hi',
    framing: 'length',
  }),
  ok('DELETE', 'version and method', `DELETE /f HTTP/1.1\r\n${H}\r\n`, { method: 'DELETE', target: '/f' }),
  ok('OPTIONS /f', 'version and method', `OPTIONS /f HTTP/1.1\r\n${H}\r\n`, {
    method: 'OPTIONS',
    target: '/f',
  }),
  ok('TRACE is forwarded (RFC 9110 §9.3.8)', 'version and method', `TRACE /f HTTP/1.1\r\n${H}\r\n`, {
    method: 'TRACE',
    target: '/f',
  }),
  ok(
    'HEAD: the length, no body',
    'version and method',
    `HEAD /f HTTP/1.1\r\n${H}\r\n`,
    { method: 'HEAD', target: '/f' },
    { head: true },
  ),
  {
    name: 'HEAD on a synchronous route',
    group: 'version and method',
    send: `HEAD /sync HTTP/1.1\r\n${H}\r\n`,
    want: [200],
    after: 'open',
    upstream: 'none',
    head: true,
  },
];

/**
 * What the node engine answers where it differs from the uWS rows above, by case name: every uWS
 * gap answered per RFC 9110 / RFC 9112 (llhttp refuses what does not parse with a 400 and a
 * close; HTTP/1.0, absolute-form and pipelining work).
 */
/** node:http decides per request which Upgrade requests leave its parser (Node 22.23+, 24). */
const perRequestUpgrade = (() => {
  const [major, minor] = process.versions.node.split('.').map(Number) as [number, number];
  return major > 22 || (major === 22 && minor >= 23);
})();

const onNode: Record<string, Partial<Case>> = (() => {
  const refusedOn = (status: number, upstream: 'none' | 'cut' = 'none'): Partial<Case> => ({
    want: [status],
    after: 'closed',
    upstream,
    closeHeader: true,
  });
  const okOn = (up: Forwarded[] | 'none', want = [200]): Partial<Case> => ({
    want,
    after: 'open',
    upstream: up,
  });
  const hello = { method: 'POST', target: '/f', body: 'hello', framing: 'chunked' } as const;
  const m: Record<string, Partial<Case>> = {
    // RFC 9110 §8.6 allows refusing identical repeated lengths too: llhttp does
    'two identical Content-Length fields: one is forwarded': refusedOn(400),
    'Content-Length then Transfer-Encoding': refusedOn(400),
    'Transfer-Encoding then Content-Length': refusedOn(400),
    'Content-Length "5, 5"': refusedOn(400),
    'Content-Length -1': refusedOn(400),
    'Content-Length 0x5': refusedOn(400),
    'Content-Length +5': refusedOn(400),
    'Content-Length of 20 digits': refusedOn(400),
    'Content-Length 10^9 (over the body cap: RFC wants 413)': refusedOn(413),
    'Transfer-Encoding: gzip with a body: uWS reads it as chunked and closes before our 400 is out':
      refusedOn(400),
    'chunk extension "5;ext=1" (RFC 9112 §7.1.1: ignore it)': okOn([hello]),
    'chunk extension on the last chunk': okOn([hello]),
    // bad chunked framing after the head: the request is already on its way upstream (cut there)
    'chunk size ffffffffffffffffff (overflow)': refusedOn(400, 'cut'),
    'chunk size 10000000000000005 (wraps to 5 in 64 bits)': refusedOn(400, 'cut'),
    'negative chunk size': refusedOn(400, 'cut'),
    'chunk size 0x5': refusedOn(400, 'cut'),
    'non-hex chunk size': refusedOn(400, 'cut'),
    'chunk size followed by a space (no BWS allowed there)': refusedOn(400, 'cut'),
    'chunk lines ended by bare LF': refusedOn(400, 'cut'),
    'chunk data longer than its size (two bytes skipped unchecked)': refusedOn(400, 'cut'),
    'an empty chunk-size line ends the body': refusedOn(400, 'cut'),
    'trailer fields: the body is read, the connection is lost': { after: 'open' },
    // before node's shouldUpgradeCallback (Node 22.23) every Upgrade request leaves node's parser:
    // answered as an ordinary request, then the connection closes (docs/node-engine.md)
    ...(perRequestUpgrade
      ? {}
      : {
          'Upgrade: websocket is not forwarded': { after: 'closed' as const },
          'Upgrade: h2c and HTTP2-Settings are not forwarded': { after: 'closed' as const },
        }),
    // pipelining: every request answered, in order
    'two proxied requests in one write': okOn(
      [
        { method: 'GET', target: '/p1' },
        { method: 'GET', target: '/p2' },
      ],
      [200, 200],
    ),
    'three proxied requests in one write': okOn(
      [
        { method: 'GET', target: '/p1' },
        { method: 'GET', target: '/p2' },
        { method: 'GET', target: '/p3' },
      ],
      [200, 200, 200],
    ),
    'proxied then synchronous': okOn([{ method: 'GET', target: '/p1' }], [200, 200]),
    'two async handler requests in one write': okOn('none', [200, 200]),
    'a proxied POST with its body, then a GET': okOn(
      [{ method: 'POST', target: '/p1', body: 'hello', framing: 'length' }],
      [200, 200],
    ),
    // "loGET /sync …": a well-formed method token nobody implements (RFC 9110 §9.1)
    'Content-Length shorter than the data: the rest is a bad request line': {
      want: [200, 501],
      after: 'closed',
      closeHeader: false,
      upstream: [{ method: 'POST', target: '/f', body: 'hel', framing: 'length' }],
    },
    // a refusal or a closing answer, then a request in the same read: that request is never processed
    'differing Content-Length (0 and 41), then a request hidden in the "body"': refusedOn(400),
    'two Host fields, then a request': refusedOn(400),
    'a path above the root, then a request': refusedOn(400),
    'an empty Content-Length, then a request': refusedOn(400),
    'Transfer-Encoding: gzip with an empty chunked body, then a request': refusedOn(400),
    'a body over the cap (413), then a request': refusedOn(413),
    'a synchronous answer with the body unread, then a request': refusedOn(200),
    'Connection: close, then a request in the same read': refusedOn(200),
    'an empty line before the request line (RFC 9112 §2.2: should be ignored)': okOn([
      { method: 'GET', target: '/f' },
    ]),
    'an empty field name ends the field list: later fields are invisible': refusedOn(400),
    'an empty field name hides a later Content-Length: the body is read as the next request': refusedOn(400),
    // llhttp refuses DEL itself (the proxy would have, a step later)
    'DEL in a value → 400 from the proxy, nothing forwarded': refusedOn(400),
    // obs-text (RFC 9110 §5.5): UTF-8 is forwarded as the bytes it was; what is not UTF-8 cannot
    // be carried faithfully through the engine-neutral (UTF-8) header values, so it is refused
    'a value ending in UTF-8 bytes loses them': okOn([
      { method: 'GET', target: '/f', check: (r) => expect(field(r, 'x-a')).toBe('caf\xc3\xa9') },
    ]),
    'invalid UTF-8 in a value reaches the upstream as U+FFFD': refusedOn(400),
    'no Host field (RFC: 400)': refusedOn(400),
    'Connection: xclos (five characters, not a close option): uWS closes anyway': okOn('none'),
    'raw UTF-8 in the query → 400 from the proxy': refusedOn(400),
    // RFC 9112 §3.2.2: the authority of an absolute-form target is the Host
    'absolute-form http://a/f (RFC 9112 §3.2.2: must be accepted)': okOn([
      { method: 'GET', target: '/f', check: (r) => expect(field(r, 'host')).toBe('a') },
    ]),
    'absolute-form to another host': okOn([
      { method: 'GET', target: '/f', check: (r) => expect(field(r, 'host')).toBe('evil') },
    ]),
    'asterisk-form with GET': refusedOn(400),
    'OPTIONS *': okOn('none'),
    'CONNECT a:443 (authority-form)': refusedOn(501),
    'a 100 KB field value in two reads': refusedOn(431),
    'a 4,200-byte head in two reads (RFC: 431 at most)': okOn([{ method: 'GET', target: '/f' }]),
    '49 field lines (RFC: 431)': okOn([{ method: 'GET', target: '/f' }]),
    '200 field lines': refusedOn(431),
    // 100 Continue only once the body is read: a request refused first never gets it (RFC 9110 §10.1.1)
    'Expect: 100-continue over the body cap: 100, then 413': refusedOn(413),
    'Expect: 100-continue on a synchronous route: 100, 200, closed (body unread)': refusedOn(200),
    // node closes after an Expect it did not answer with 100 (the client may send a body anyway)
    'Expect: 100-continue on a GET': {
      want: [200],
      after: 'closed',
      upstream: [{ method: 'GET', target: '/f' }],
    },
    'HTTP/1.0': { want: [200], after: 'closed', upstream: [{ method: 'GET', target: '/f' }] },
    'HTTP/1.0 without Host': { want: [200], after: 'closed', upstream: [{ method: 'GET', target: '/f' }] },
    'HTTP/1.0 with keep-alive': okOn([{ method: 'GET', target: '/f' }]),
    'HTTP/2.0 (RFC 9112 §2.3: 505)': refusedOn(505),
    // RFC 9110 §2.5 says SHOULD serve 1.2 as 1.1; llhttp knows only 1.0 and 1.1
    'HTTP/1.2 (RFC 9110 §2.5: serve as 1.1)': refusedOn(505),
    'http/1.1 in lower case': refusedOn(400),
    'HTTP/0.9 (no version)': refusedOn(505),
    'lower-case method "get" (methods are case-sensitive: RFC wants 501)': refusedOn(501),
    'unknown method FOO (RFC: 501)': refusedOn(501),
    PROPFIND: okOn([{ method: 'PROPFIND', target: '/f' }]),
    'a method with "("': refusedOn(400),
  };
  for (const n of [
    'obs-fold (line folding; RFC: 400 or replace with SP)',
    'obs-fold with a tab',
    'whitespace before the colon: "Host : a" (RFC 9112 §5.1: 400)',
    'whitespace before the colon of another field',
    'a field name with "("',
    'a field name with a space',
    'a field name with "@"',
    'a field name with a UTF-8 byte',
    'a field line without a colon',
    'NUL in a value',
    'bare CR in a value',
    'bare LF inside a value',
    '\\x01 in a value',
    'lines ended by bare LF',
    'whitespace before the first field line',
    'NUL in the path',
    '\\x01 in the path',
    'a tab in the path',
    '\\x01 in the query',
    'a space in the target',
    'an empty target',
    'a target without the leading slash',
  ])
    m[n] = refusedOn(400);
  return m;
})();

function field(r: RecordedRequest, name: string): string | undefined {
  const all = r.fields.filter(([k]) => k.toLowerCase() === name);
  expect(all.length, `fields named ${name}`).toBeLessThanOrEqual(1);
  return all[0]?.[1];
}

function noField(name: string) {
  return (r: RecordedRequest) => expect(r.fields.map(([k]) => k.toLowerCase())).not.toContain(name);
}

let up: RecordingUpstream;
let cli: Cli & { ports: number[] };
/** the listener of each engine under test (one process); uWS's `chunked_requests: accept` one too */
const ports: Partial<Record<Engine | 'uwsAccept', number>> = {};
const engines: Engine[] = uwsAvailable() ? ['uws', 'node'] : ['node'];

beforeAll(async () => {
  up = await recordingUpstream();
  const listen = [
    ...(uwsAvailable()
      ? [
          '{ host: 127.0.0.1, port: 0, engine: uws }',
          '{ host: 127.0.0.1, port: 0, engine: uws, chunked_requests: accept }',
        ]
      : []),
    '{ host: 127.0.0.1, port: 0, engine: node }',
  ].join(', ');
  cli = await startCli(`
listen: [${listen}]
log: { level: info, access: off }
limits: { body: 64KiB }
routes_dir: ${join(packageRoot, 'test', 'fixtures', 'handlers')}
upstreams:
  rec: { servers: [{ url: "${up.url}" }], retries: { tries: 1 } }
routes:
  - { path: /sync, respond: { body: "sync\\n" } }
  - { path: /sleep, handler: sleep }
  - { path: /capped, proxy: rec, body: 1KiB }
  - { path: "/*", proxy: rec }
`);
  const names = uwsAvailable() ? (['uws', 'uwsAccept', 'node'] as const) : (['node'] as const);
  names.forEach((e, i) => {
    ports[e] = cli.ports[i]!;
  });
  if (ports.uws !== undefined) startTimerWatch(ports.uws);
});

afterAll(async () => {
  cli?.kill();
  await cli?.exited;
  await up?.close();
});

/** How many upstream requests the cases run so far have checked (a stray after the last one shows as more). */
let accounted = 0;

/** The machine's pace now (measured at most once a second), for the waits below. */
const paceNow = recentPace();
/**
 * How long to wait for a response or a close that should come: generous, yet below uWS's ≈ 10 s
 * timer (≥ 7 s, measured below), so a connection that timer closes is never taken for an answer.
 */
const ANSWER_MS = 5000;
/** How long to watch for what must not come (a byte, a forwarded request): scaled, kept below ANSWER_MS. */
const watchFor = async (quietMs: number) =>
  Math.min(ANSWER_MS, await absenceWindow(quietMs, await paceNow()));

/** Send one case and check the answer and the connection. */
async function exchange(c: Case, port: number): Promise<void> {
  const client = await RawClient.connect(
    c.listener === 'accept' && port === ports.uws ? ports.uwsAccept! : port,
  );
  try {
    const parts = typeof c.send === 'string' ? [c.send] : c.send;
    for (let i = 0; i < parts.length; i++) {
      // the parts arrive in separate reads: 100 ms apart on a quiet machine, scaled
      if (i > 0) await sleep(await absenceWindow(100, await paceNow()));
      client.write(parts[i]!);
    }
    if (c.want === 'silent') {
      const n = await client.next(await watchFor(500));
      expect(n, 'silent: no byte (500 ms, scaled), still open').toEqual({ timeout: true, partial: '' });
      return;
    }
    if (c.want === 'reset') {
      const n = await client.next(ANSWER_MS);
      expect(n, 'reset: closed at once').toEqual({ closed: true });
      expect(client.received, 'reset: not one byte').toBe('');
      return;
    }
    for (const status of c.want) {
      const n = await client.next(ANSWER_MS, c.head === true && status >= 200);
      if (!('status' in n)) throw new Error(`expected a ${status} response, got ${JSON.stringify(n)}`);
      expect(n.status).toBe(status);
      expect(n.problems, 'a well-formed response').toEqual([]);
      if (c.after === 'closed' && status >= 200 && c.closeHeader !== false)
        expect(values(n, 'connection')).toEqual(['close']);
    }
    if (c.after === 'closed') {
      expect(await client.closedWithin(ANSWER_MS), 'closed after the response').toBe(true);
      expect(client.pending, 'nothing after the response').toBe('');
      return;
    }
    client.write(FOLLOW);
    const n = await client.next(c.after === 'open' ? ANSWER_MS : await watchFor(500));
    if (c.after === 'unusable') {
      expect('status' in n, `the follow-up is not answered: ${JSON.stringify(n)}`).toBe(false);
      return;
    }
    if (!('status' in n)) throw new Error(`the follow-up was not answered: ${JSON.stringify(n)}`);
    expect(n.status).toBe(200);
    expect(n.body.toString()).toBe('sync\n');
    await sleep(await watchFor(5));
    expect(client.pending, 'nothing after the follow-up').toBe('');
  } finally {
    client.destroy();
  }
}

/** What reached the upstream since `mark` (requests) and `pmark` (stream problems). */
function checkUpstream(c: Case, mark: number, pmark: number): void {
  const got = up.requests.slice(mark);
  const problems = up.problems().slice(pmark);
  if (c.upstream === 'none' || c.upstream === 'cut') {
    expect(
      got.map((r) => `${r.method} ${r.target}`),
      'no request reached the upstream',
    ).toEqual([]);
    const allowed =
      c.upstream === 'cut' ? problems.filter((p) => !p.includes('incomplete request at close')) : problems;
    expect(allowed).toEqual([]);
    return;
  }
  expect(problems, 'the upstream streams parse').toEqual([]);
  expect(got.map((r) => `${r.method} ${r.target}`)).toEqual(c.upstream.map((u) => `${u.method} ${u.target}`));
  c.upstream.forEach((u, i) => {
    const r = got[i]!;
    expect(r.problems, `forwarded request ${i}: well-formed, no hop-by-hop`).toEqual([]);
    expect(r.version).toBe('HTTP/1.1');
    if (u.body !== undefined) expect(r.body.toString('latin1')).toBe(u.body);
    if (u.framing !== undefined) expect(r.framing).toBe(u.framing);
    if (r.body.length > 0) expect(r.framing).not.toBe('none');
    expect(field(r, 'x-forwarded-for')).toBe('127.0.0.1');
    u.check?.(r);
  });
}

/**
 * The upstream is shared by both engines' cases; cases run one at a time (vitest runs a file's
 * tests in order), so what arrives between the marks belongs to this case.
 */
async function runCase(c: Case, port: number): Promise<void> {
  const mark = up.requests.length;
  const pmark = up.problems().length;
  await exchange(c, port);
  // A request forwarded by mistake arrives within a few ms. Not scaled: one that comes later still
  // fails the next case's exact check of the upstream (and the check after the last case), so this
  // wait only makes the failure name the right case.
  if (c.upstream === 'none') await sleep(20);
  // A cut request's upstream connection closes when undici gets round to it (later on a busy
  // machine): wait until the count of upstream problems settles, so it is counted here and not in
  // the next case (on Node 24 the next case saw this one's 'incomplete request at close').
  if (c.upstream === 'cut')
    await settle(() => up.problems().length, { quietMs: await watchFor(300), ms: 3 * ANSWER_MS });
  checkUpstream(c, mark, pmark);
  accounted = up.requests.length;
}

/** The case as `engine` must pass it: uWS as documented (gaps included), node by the RFC. */
const ACCEPT = 'chunked_requests: accept: ';
/** A case's name without the uWS listener it was sent to (node has one behaviour for both). */
const bare = (name: string) => (name.startsWith(ACCEPT) ? name.slice(ACCEPT.length) : name);
/** uWS's refusal of chunked bodies (411): the node engine parses them (its twin case, on the accept listener, runs there) */
const uwsOnly = (c: Case) => Array.isArray(c.want) && c.want.includes(411);

function forEngine(c: Case, engine: Engine): Case {
  if (engine === 'uws') return c;
  const o = onNode[bare(c.name)];
  return { ...c, gap: undefined, listener: undefined, ...o };
}

const sequential = (engine: Engine) =>
  cases
    .filter((c) => engine === 'uws' || !uwsOnly(c))
    .map((c) => forEngine(c, engine))
    .filter((c) => c.want !== 'silent');

describe.each(engines)('engine %s', (engine) => {
  describe.each([...new Set(cases.map((c) => c.group))])('%s', (group) => {
    it.each(
      sequential(engine)
        .filter((c) => c.group === group)
        .map((c) => [c.name, c] as const),
    )('%s', async (_n, c) => {
      await runCase(c, ports[engine]!);
    });
  });
});

const silent = cases.filter((c) => c.want === 'silent');

// The silent gaps each wait 500 ms (scaled) for nothing: run them side by side. They expect nothing
// upstream, so a request forwarded by any of them fails them all.
describe.skipIf(!engines.includes('uws'))('known gaps with no answer (uWS; see SECURITY.md)', () => {
  it.concurrent.each(silent.map((c) => [`${c.group}: ${c.name}`, c] as const))('%s', async (_n, c) => {
    const mark = up.requests.length;
    await exchange(c, ports.uws!);
    expect(up.requests.slice(mark).map((r) => `${r.method} ${r.target}`)).toEqual([]);
  });
});

// --- the ≈ 10 s timer that closes the silent cases (measured once, beside the rest) ----------

const timerCases = {
  'HTTP/1.0': `GET /f HTTP/1.0\r\n${H}\r\n`,
  '49 field lines': get('/f', fields(48)),
  'obs-fold': get('/f', 'X-A: a\r\n b\r\n'),
  'NUL in a value': get('/f', 'X-A: a\x00b\r\n'),
  'no Host': `GET /f HTTP/1.1\r\n\r\n`,
  'absolute-form': get('http://a/f'),
};
const timerResults: Promise<{ name: string; ms: number; bytes: number }>[] = [];

function startTimerWatch(port: number): void {
  for (const [name, bytes] of Object.entries(timerCases)) {
    timerResults.push(
      RawClient.connect(port).then(async (c) => {
        const t0 = performance.now();
        c.write(bytes);
        await c.closedWithin(20_000);
        return { name, ms: performance.now() - t0, bytes: c.received.length };
      }),
    );
  }
}

describe.skipIf(!engines.includes('uws'))('the uWS idle timer', () => {
  it('closes a connection left without an answer after ≈ 10 s, not one byte sent', async () => {
    const results = await Promise.all(timerResults);
    // one periodic timer closes them all: not early, and the last within twice the first
    const first = Math.min(...results.map((r) => r.ms));
    for (const r of results) {
      expect(r.bytes, r.name).toBe(0);
      expect(r.ms, r.name).toBeGreaterThan(7_000);
      expect(r.ms, r.name).toBeLessThan(2 * first);
    }
  }, 30_000);
});

it('every gap named here is a row of SECURITY.md’s table', () => {
  const doc = readFileSync(join(packageRoot, 'SECURITY.md'), 'utf8');
  const rows = [...doc.matchAll(/^\| (.+?) \|/gm)].map((m) => m[1]!);
  for (const g of new Set(cases.map((c) => c.gap).filter((g) => g !== undefined)))
    expect(
      rows.some((r) => r.startsWith(g)),
      `SECURITY.md row for "${g}"`,
    ).toBe(true);
});

it('the node engine answers every uWS gap by the RFC (no silence, no reset, no unusable connection)', () => {
  const names = new Set(cases.map((c) => bare(c.name)));
  expect(
    Object.keys(onNode).filter((n) => !names.has(n)),
    'onNode names only cases',
  ).toEqual([]);
  for (const c of cases) {
    if (uwsOnly(c)) continue;
    const n = forEngine(c, 'node');
    if (c.gap !== undefined)
      expect(onNode[bare(c.name)], `node expectation for the uWS gap "${c.name}"`).toBeDefined();
    expect(Array.isArray(n.want), c.name).toBe(true);
    expect(n.after, c.name).not.toBe('unusable');
  }
});

it(`has at least 60 cases (${cases.length})`, () => {
  expect(cases.length).toBeGreaterThanOrEqual(60);
  for (const c of cases) {
    if (c.want === 'silent' || c.want === 'reset' || c.after === 'unusable')
      expect(c.gap, c.name).toBeDefined();
  }
});

it('no request reached the upstream after the last case was checked', async () => {
  await sleep(await watchFor(20)); // a stray would have arrived by now (20 ms, scaled)
  expect(up.requests.length).toBe(accounted);
});

/**
 * The access-log line of a finished exchange, built as one string in pino's layout
 * (`{"level":30,"time":…,<child bindings>,fields}`) without pino's generic serialisation.
 *
 * Invariant: the line is exactly the JSON pino would write for the same fields
 * (test/log-batch.test.ts "is the JSON pino would write …"). Per request the line is a handful of
 * pieces: what repeats from one request to the next (the time within a millisecond, the peer and
 * method, the host, the path, the route with its status, the user agent) is quoted once and kept
 * with its key, and reused while it stays the same; only counters and the id are formatted per line.
 * Fewer pieces mean fewer string concatenations and a cheaper flattening when a turn's lines are
 * joined (docs/performance.md).
 */
import { type Logger, symbols } from 'pino';
import type { Exchange } from '../exchange.js';

const { chindingsSym, streamSym } = symbols;

/** Who the client is: the peer, or what a trusted proxy in front of it says (X-Forwarded-For). */
export type ClientOf = (ex: Exchange) => string;

/** Printable ASCII without `"` and `\\`: such a string is its own JSON body. */
const PLAIN = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** A string as a JSON string literal: the common plain case without JSON.stringify's generic path. */
function q(s: string): string {
  return PLAIN.test(s) ? `"${s}"` : JSON.stringify(s);
}

/** A number as JSON writes it (null for NaN and ±Infinity, as pino does). */
function num(n: number): string {
  return Number.isFinite(n) ? String(n) : 'null';
}

/** `.001` … `.999` without trailing zeros ('' for 0): the fraction of a millisecond count. */
const FRACTION: readonly string[] = Array.from({ length: 1000 }, (_, i) =>
  i === 0 ? '' : `.${String(i).padStart(3, '0')}`.replace(/0+$/, ''),
);

/**
 * Milliseconds rounded to the microsecond, as `String(Math.round(x * 1000) / 1000)` writes them
 * (test/log-batch.test.ts "formats milliseconds as String(…) does") without formatting a double.
 */
export function millis(x: number): string {
  const us = Math.round(x * 1000);
  if (!(us >= 0 && us < 1e15)) return num(us / 1000);
  const whole = Math.floor(us / 1000);
  return `${whole}${FRACTION[us - whole * 1000]}`;
}

/** A field whose quoted text, key included, is kept while its value stays the same. */
class Field {
  private value: string | undefined = undefined;
  private text = '';
  private readonly key: string;

  constructor(key: string) {
    this.key = key;
  }

  of(v: string): string {
    if (v !== this.value) {
      this.value = v;
      this.text = `${this.key}${q(v)}`;
    }
    return this.text;
  }
}

const hostField = new Field(',"host":');
const pathField = new Field(',"path":');
const agentField = new Field(',"user_agent":');
const refererField = new Field(',"referer":');
const upstreamField = new Field(',"upstream":');

/** the logger the per-logger parts below were read from */
let logger: Logger | undefined;
let chindings = '';
let stream: { write(s: string): unknown } = { write: () => {} };
/** `{"level":30,"time":"…"<bindings>,"id":` for the millisecond `headMs` */
let headMs = -1;
let head = '';
/** `,"client":…,"peer":…,"method":…` for the last client, peer and method */
let lastClient: string | undefined;
let lastPeer: string | undefined;
let lastMethod: string | undefined;
let who = '';
/** `,"route":…,"track":…,"status":N,"bytes_in":` for the last route, track and status */
let lastRoute: string | undefined;
let lastTrack: string | undefined;
let lastStatus = -1;
let routeText = '';

function headOf(access: Logger): string {
  const now = Date.now();
  if (access !== logger) {
    const own = access as unknown as Record<symbol, unknown>;
    logger = access;
    chindings = own[chindingsSym] as string;
    stream = own[streamSym] as { write(s: string): unknown };
    headMs = -1;
  }
  if (now !== headMs) {
    headMs = now;
    head = `{"level":30,"time":"${new Date(now).toISOString()}"${chindings},"id":`;
  }
  return head;
}

/**
 * Write the access-log line of a finished exchange. Field names are stable (documented in README):
 * time, id, client, peer, method, host, path, route, track, status (as written; 0 when none was),
 * bytes_in, bytes_out, ms, user_agent, referer, and when present upstream, upstream_status,
 * upstream_ms, tries, closed_by, err. `peer` is the TCP peer; `client` is the same unless the peer
 * is a trusted proxy (X-Forwarded-For) or a trusted balancer's PROXY header says otherwise.
 */
export function logAccess(access: Logger, ex: Exchange, clientOf?: ClientOf): void {
  const peer = ex.remoteAddress;
  const client = clientOf === undefined ? peer : clientOf(ex);
  const method = ex.method;
  if (client !== lastClient || peer !== lastPeer || method !== lastMethod) {
    lastClient = client;
    lastPeer = peer;
    lastMethod = method;
    who = `,"client":${q(client)},"peer":${q(peer)},"method":${q(method)}`;
  }
  const route = ex.route;
  const track = ex.track;
  const status = ex.status;
  if (route !== lastRoute || track !== lastTrack || status !== lastStatus) {
    lastRoute = route;
    lastTrack = track;
    lastStatus = status;
    routeText = `,"route":${q(route)},"track":${q(track)},"status":${num(status)},"bytes_in":`;
  }
  let line = `${headOf(access)}${q(ex.id)}${who}`;
  if (ex.host !== '') line += hostField.of(ex.host);
  line += pathField.of(ex.path);
  if (ex.query !== '') line += `,"query":${q(ex.query)}`;
  line += `${routeText}${ex.bytesIn},"bytes_out":${ex.bytesOut},"ms":${millis(performance.now() - ex.startTime)}`;
  const ua = ex.header('user-agent');
  if (ua !== undefined) line += agentField.of(ua);
  const referer = ex.header('referer');
  if (referer !== undefined) line += refererField.of(referer);
  if (ex.upstream !== undefined) {
    line += `${upstreamField.of(ex.upstream)},"upstream_status":${num(ex.upstreamStatus)},"upstream_ms":${millis(ex.upstreamTime)},"tries":${ex.tries}`;
  }
  if (ex.closedBy !== undefined)
    line += ex.closedBy === 'client' ? ',"closed_by":"client"' : ',"closed_by":"server"';
  if (ex.errorCode !== undefined) line += `,"err":${q(ex.errorCode)}`;
  if (ex.logExtra !== undefined) {
    const extra = JSON.stringify(ex.logExtra);
    if (extra.length > 2) line += `,${extra.slice(1, -1)}`;
  }
  stream.write(`${line}}\n`);
}

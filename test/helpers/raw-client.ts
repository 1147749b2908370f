/**
 * The raw-socket client for every test that needs exact bytes on the wire: writes what it is
 * given, and reads responses with a strict parser of its own (RFC 9112), so a malformed response is
 * reported rather than smoothed over the way Node's parser would. One socket, many requests: it
 * tells a response from the connection closing, and both from silence. The one-shot helpers below
 * (`raw`, `rawGet`, `openRequest`, `lineClient`) are built on it.
 */
import net from 'node:net';

export interface WireResponse {
  status: number;
  /** the status line as sent */
  statusLine: string;
  /** [name as sent, value] in wire order */
  fields: [string, string][];
  body: Buffer;
  framing: 'none' | 'length' | 'chunked' | 'close';
  /** the exact bytes of the response */
  raw: string;
  /** what makes this response malformed; empty when well-formed */
  problems: string[];
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/** All values of field `name` (case-insensitive). */
export function values(r: WireResponse, name: string): string[] {
  return r.fields.filter(([k]) => k.toLowerCase() === name).map(([, v]) => v);
}

type Parsed = { res: WireResponse; used: number } | { fatal: string } | null;

/** Parse one response from `buf`; `head`: it answers a HEAD request; `closed`: no more bytes come. */
export function parseWireResponse(buf: Buffer, head: boolean, closed: boolean): Parsed {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1)
    return closed && text.length > 0
      ? { fatal: `truncated head ${JSON.stringify(text.slice(0, 80))}` }
      : null;
  const problems: string[] = [];
  const lines = text.slice(0, end).split('\r\n');
  const statusLine = lines[0]!;
  const m = /^HTTP\/1\.1 (\d{3}) ([\t\x20-\x7e\x80-\xff]*)$/.exec(statusLine);
  if (m === null) return { fatal: `bad status line ${JSON.stringify(statusLine.slice(0, 80))}` };
  const status = Number(m[1]);
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (colon === -1 || !TOKEN.test(name)) problems.push(`bad field line ${JSON.stringify(line)}`);
    if (BAD_VALUE.test(value)) problems.push(`control character in ${name}`);
    fields.push([name, value]);
  }
  const all = (n: string) => fields.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);
  const cl = all('content-length');
  const te = all('transfer-encoding');
  if (cl.length > 1) problems.push(`${cl.length} Content-Length fields`);
  if (cl.length > 0 && te.length > 0) problems.push('both Content-Length and Transfer-Encoding');
  if (te.length > 0 && (te.length > 1 || te[0]!.toLowerCase() !== 'chunked'))
    problems.push(`Transfer-Encoding ${JSON.stringify(te)}`);
  if (cl.length > 0 && !/^\d+$/.test(cl[0]!)) problems.push(`Content-Length ${JSON.stringify(cl[0])}`);
  const noBody = head || status < 200 || status === 204 || status === 304;
  if ((status < 200 || status === 204) && (cl.length > 0 || te.length > 0))
    problems.push(`${status} with a framing field`);

  let at = end + 4;
  let body = Buffer.alloc(0);
  let framing: WireResponse['framing'] = 'none';
  if (noBody) {
    // no content, whatever the fields say (RFC 9112 §6.3 rule 1)
  } else if (te.length > 0) {
    framing = 'chunked';
    const parts: Buffer[] = [];
    for (;;) {
      const eol = text.indexOf('\r\n', at);
      if (eol === -1) return closed ? { fatal: 'truncated chunked body' } : null;
      const sm = /^([0-9A-Fa-f]{1,16})(;.*)?$/.exec(text.slice(at, eol));
      if (sm === null)
        return { fatal: `bad chunk-size line ${JSON.stringify(text.slice(at, eol).slice(0, 40))}` };
      const size = Number.parseInt(sm[1]!, 16);
      at = eol + 2;
      if (size === 0) {
        for (;;) {
          const tl = text.indexOf('\r\n', at);
          if (tl === -1) return closed ? { fatal: 'truncated trailers' } : null;
          const t = text.slice(at, tl);
          at = tl + 2;
          if (t === '') break;
        }
        break;
      }
      if (buf.length < at + size + 2) return closed ? { fatal: 'truncated chunk' } : null;
      parts.push(buf.subarray(at, at + size));
      if (text.slice(at + size, at + size + 2) !== '\r\n')
        return { fatal: 'chunk data not followed by CRLF' };
      at += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (cl.length > 0) {
    framing = 'length';
    const n = Number(cl[0]);
    if (buf.length < at + n) return closed ? { fatal: `truncated body (${buf.length - at} of ${n})` } : null;
    body = Buffer.from(buf.subarray(at, at + n));
    at += n;
  } else {
    // delimited by the close (RFC 9112 §6.3 rule 8)
    if (!closed) return null;
    framing = 'close';
    body = Buffer.from(buf.subarray(at));
    at = buf.length;
  }
  return {
    res: { status, statusLine, fields, body, framing, raw: text.slice(0, at), problems },
    used: at,
  };
}

export type Next = WireResponse | { closed: true; truncated?: string } | { timeout: true; partial: string };

export class RawClient {
  readonly socket: net.Socket;
  private buf: Buffer = Buffer.alloc(0);
  closed = false;
  /** every byte received */
  received = '';
  /** woken on every byte received and on the close */
  private readonly wakers = new Set<() => void>();

  private constructor(socket: net.Socket) {
    this.socket = socket;
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.received += d.toString('latin1');
      for (const w of this.wakers) w();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const w of this.wakers) w();
    });
  }

  static connect(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  write(bytes: string | Buffer): void {
    if (!this.closed) this.socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes);
  }

  /** Bytes received and not yet parsed as a response. */
  get pending(): string {
    return this.buf.toString('latin1');
  }

  /** The next response; `{closed}` if the connection closed first; `{timeout}` after `ms` without one. */
  async next(ms: number, head = false): Promise<Next> {
    const deadline = performance.now() + ms;
    for (;;) {
      const p = parseWireResponse(this.buf, head, this.closed);
      if (p !== null && 'fatal' in p) return { closed: true, truncated: p.fatal };
      if (p !== null) {
        this.buf = this.buf.subarray(p.used);
        return p.res;
      }
      if (this.closed) return { closed: true };
      const left = deadline - performance.now();
      if (left <= 0) return { timeout: true, partial: this.pending };
      await this.nap(left);
    }
  }

  /** Resolves true once the server closed the connection, false after `ms` of it staying open. */
  closedWithin(ms: number): Promise<boolean> {
    return this.waitFor(() => this.closed, ms);
  }

  /**
   * Resolves true once `ready()` holds (checked on every byte received and on the close), false
   * after `ms` without it.
   */
  async waitFor(ready: () => boolean, ms: number): Promise<boolean> {
    const deadline = performance.now() + ms;
    for (;;) {
      if (ready()) return true;
      if (this.closed) return ready();
      const left = deadline - performance.now();
      if (left <= 0) return false;
      await this.nap(left);
    }
  }

  destroy(): void {
    this.socket.destroy();
  }

  /** Resolves on the next byte, the close, or after `ms` (never, when `ms` is infinite). */
  private nap(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = Number.isFinite(ms) ? setTimeout(wake, ms) : undefined;
      const wakers = this.wakers;
      function wake(): void {
        clearTimeout(t);
        wakers.delete(wake);
        resolve();
      }
      wakers.add(wake);
    });
  }
}

// --- one-shot helpers on the raw client -----------------------------------------------------------

export interface RawResult {
  /** everything received, as latin1 text */
  text: string;
  /** the server closed the connection (before our timeout) */
  closed: boolean;
  /** ms from sending to the first byte received (-1 if none) */
  firstByteMs: number;
}

/**
 * Send exact bytes over a fresh connection; collect what comes back until the server closes, or
 * `waitMs` of silence after the last byte (or `firstMs` without any byte). `closed` tells whether
 * the server closed.
 */
export async function raw(
  port: number,
  bytes: string | Buffer,
  waitMs = 100,
  firstMs = 3000,
): Promise<RawResult> {
  const c = await RawClient.connect(port);
  const sentAt = performance.now();
  let firstByteMs = -1;
  c.socket.once('data', () => {
    firstByteMs = performance.now() - sentAt;
  });
  c.write(bytes);
  try {
    let seen = 0;
    let wait = firstMs;
    // each round ends on the close, on new bytes, or on silence
    while (await c.waitFor(() => c.received.length > seen, wait)) {
      if (c.closed) break;
      seen = c.received.length;
      wait = waitMs;
    }
    return { text: c.received, closed: c.closed, firstByteMs };
  } finally {
    c.destroy();
  }
}

/** Parse the first response in `text` leniently: status, headers (lower-case, arrays for repeats), body. */
export function parseResponse(text: string): {
  status: number;
  headers: Record<string, string[]>;
  body: string;
  rest: string;
} {
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) throw new Error(`no complete response head in ${JSON.stringify(text.slice(0, 200))}`);
  const lines = text.slice(0, end).split('\r\n');
  const status = Number(lines[0]!.split(' ')[1]);
  const headers: Record<string, string[]> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(':');
    const k = l.slice(0, i).toLowerCase();
    (headers[k] ??= []).push(l.slice(i + 1).trim());
  }
  let body = text.slice(end + 4);
  let rest = '';
  const cl = headers['content-length'];
  if (cl) {
    rest = body.slice(Number(cl[0]));
    body = body.slice(0, Number(cl[0]));
  }
  return { status, headers, body, rest };
}

export interface HttpResult {
  status: number;
  /** the last value of each field, by lower-case name */
  headers: Record<string, string>;
  body: string;
}

/** GET over a fresh connection (Connection: close); resolves with the response once the server closes. */
export async function rawGet(port: number, path: string, extra = ''): Promise<HttpResult> {
  const c = await RawClient.connect(port);
  c.write(`GET ${path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n${extra}\r\n`);
  await c.waitFor(() => c.closed, Number.POSITIVE_INFINITY);
  const r = parseResponse(c.received);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(r.headers)) headers[k] = v[v.length - 1]!;
  return { status: r.status, headers, body: r.body };
}

/** Send a GET and keep the socket: the test destroys it to abort the request. */
export async function openRequest(port: number, path: string): Promise<net.Socket> {
  const c = await RawClient.connect(port);
  c.write(`GET ${path} HTTP/1.1\r\nHost: test\r\n\r\n`);
  return c.socket;
}

/** A line-protocol client (the tcp track): what it received, and waiting for lines or the close. */
export interface LineClient {
  socket: net.Socket;
  received(): string;
  /** resolves with the first `n` lines received (waits for them) */
  lines(n: number, ms?: number): Promise<string[]>;
  /** resolves with everything received once the server has closed the connection */
  closed: Promise<string>;
  send(text: string): void;
}

export async function lineClient(port: number): Promise<LineClient> {
  const c = await RawClient.connect(port);
  const closed = new Promise<string>((r) => c.socket.on('close', () => r(c.received)));
  return {
    socket: c.socket,
    received: () => c.received,
    closed,
    send: (t) => c.write(t),
    async lines(n, ms = 10_000) {
      const enough = () => c.received.split('\n').length > n;
      if (!(await c.waitFor(enough, ms)))
        throw new Error(`timed out waiting for ${n} lines; got ${JSON.stringify(c.received)}`);
      return c.received.split('\n').slice(0, n);
    },
  };
}

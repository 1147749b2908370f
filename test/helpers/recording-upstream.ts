/**
 * A recording upstream for protocol tests: a raw `net` server that keeps every byte it receives,
 * per connection, and parses the stream itself — strictly, by RFC 9112, not by Node's lenient
 * parser — so a test can assert exactly what a proxy forwarded.
 *
 * Each complete request is recorded with its exact bytes and a list of `problems` (anything a
 * strict HTTP/1.1 origin would refuse, or that a proxy must never forward: both or neither
 * framing fields with a body, duplicate or malformed Content-Length, a Transfer-Encoding other
 * than `chunked`, hop-by-hop or Connection-named fields, CR / LF / NUL or other controls in a value,
 * obs-fold, a bad request line). Then `respond` answers it (by default a well-formed
 * `200 ok` with Content-Length). Bytes that cannot be parsed as the start of a request, or a
 * request still incomplete when the connection closes, are recorded on the connection.
 */
import net from 'node:net';

export interface RecordedRequest {
  /** index of the connection it came on, and its position on that connection */
  conn: number;
  seq: number;
  /** the exact bytes of this request (head and body) */
  raw: Buffer;
  method: string;
  target: string;
  version: string;
  /** fields as sent: [name, value] (value without surrounding whitespace) */
  fields: [string, string][];
  framing: 'none' | 'length' | 'chunked';
  body: Buffer;
  /** trailer fields of a chunked body */
  trailers: [string, string][];
  /** what a strict origin (and our proxy contract) objects to; empty when well-formed */
  problems: string[];
}

export interface RecordedConnection {
  index: number;
  /** every byte received, in order */
  bytes: Buffer[];
  requests: RecordedRequest[];
  /** stream-level problems: unparseable bytes, a request cut off by the close */
  problems: string[];
  closed: boolean;
  socket: net.Socket;
}

export interface RecordingUpstream {
  port: number;
  url: string;
  connections: RecordedConnection[];
  /** every complete request, in arrival order */
  requests: RecordedRequest[];
  /** stream-level problems of every connection, as `conn N: …` */
  problems(): string[];
  close(): Promise<void>;
}

export type Responder = (req: RecordedRequest, socket: net.Socket, conn: RecordedConnection) => void;

export const OK_RESPONSE = 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok';

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Field-value characters: HTAB, SP, VCHAR, obs-text (RFC 9110 §5.5). */
const BAD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** Hop-by-hop fields (RFC 9110 §7.6.1) a proxy must never forward. */
const HOP_BY_HOP = ['keep-alive', 'proxy-connection', 'te', 'trailer', 'upgrade'];
const MAX_HEAD = 256 * 1024;

/** Parse one request from `buf` (latin1 text). Returns null when more bytes are needed. */
function parseOne(
  buf: Buffer,
): { req: Omit<RecordedRequest, 'conn' | 'seq'>; used: number } | { fatal: string } | null {
  const text = buf.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end === -1) return text.length > MAX_HEAD ? { fatal: 'request head too large' } : null;
  const problems: string[] = [];
  const lines = text.slice(0, end).split('\r\n');
  const m = /^([^ ]+) ([^ ]+) (HTTP\/\d\.\d)$/.exec(lines[0]!);
  if (m === null) return { fatal: `bad request line ${JSON.stringify(lines[0]!.slice(0, 100))}` };
  const [, method, target, version] = m as unknown as [string, string, string, string];
  if (!TOKEN.test(method)) problems.push(`bad method ${JSON.stringify(method)}`);
  if (version !== 'HTTP/1.1') problems.push(`version ${version}`);
  if (/[\x00-\x20\x7f-\xff]/.test(target)) problems.push(`bad target ${JSON.stringify(target)}`);
  const fields: [string, string][] = [];
  for (const line of lines.slice(1)) {
    if (line.startsWith(' ') || line.startsWith('\t')) {
      problems.push(`obs-fold ${JSON.stringify(line)}`);
      continue;
    }
    const colon = line.indexOf(':');
    const name = colon === -1 ? line : line.slice(0, colon);
    const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, '');
    if (colon === -1 || !TOKEN.test(name)) problems.push(`bad field line ${JSON.stringify(line)}`);
    if (BAD_VALUE.test(value)) problems.push(`control character in ${name}: ${JSON.stringify(value)}`);
    fields.push([name, value]);
  }
  const all = (n: string) => fields.filter(([k]) => k.toLowerCase() === n).map(([, v]) => v);

  // Hop-by-hop: the proxy's own `Connection: keep-alive | close` is fine, nothing else.
  const connection = all('connection');
  for (const v of connection)
    for (const t of v.split(',').map((x) => x.trim().toLowerCase()))
      if (t !== '' && t !== 'keep-alive' && t !== 'close') {
        problems.push(`Connection names "${t}"`);
        if (all(t).length > 0) problems.push(`Connection-named field "${t}" forwarded`);
      }
  for (const h of HOP_BY_HOP) if (all(h).length > 0) problems.push(`hop-by-hop field "${h}" forwarded`);
  if (all('host').length !== 1) problems.push(`${all('host').length} Host fields`);
  if (all('expect').length > 0) problems.push('Expect forwarded');

  const cl = all('content-length');
  const te = all('transfer-encoding');
  let framing: RecordedRequest['framing'] = 'none';
  let at = end + 4;
  let body = Buffer.alloc(0);
  const trailers: [string, string][] = [];
  if (te.length > 0 && cl.length > 0) return { fatal: 'both Content-Length and Transfer-Encoding' };
  if (te.length > 0) {
    if (te.length !== 1 || te[0] !== 'chunked') problems.push(`Transfer-Encoding ${JSON.stringify(te)}`);
    framing = 'chunked';
    const parts: Buffer[] = [];
    for (;;) {
      const eol = text.indexOf('\r\n', at);
      if (eol === -1) return null;
      const line = text.slice(at, eol);
      const sm = /^([0-9A-Fa-f]{1,16})(;[^\r\n]*)?$/.exec(line);
      if (sm === null) return { fatal: `bad chunk-size line ${JSON.stringify(line.slice(0, 40))}` };
      if (sm[2] !== undefined) problems.push(`chunk extension ${JSON.stringify(sm[2])}`);
      const size = Number.parseInt(sm[1]!, 16);
      at = eol + 2;
      if (size === 0) {
        // trailer section, then CRLF
        for (;;) {
          const tl = text.indexOf('\r\n', at);
          if (tl === -1) return null;
          const t = text.slice(at, tl);
          at = tl + 2;
          if (t === '') break;
          const c = t.indexOf(':');
          trailers.push([t.slice(0, c), t.slice(c + 1).trim()]);
        }
        break;
      }
      if (buf.length < at + size + 2) return null;
      parts.push(buf.subarray(at, at + size));
      if (text.slice(at + size, at + size + 2) !== '\r\n')
        return { fatal: 'chunk data not followed by CRLF' };
      at += size + 2;
    }
    body = Buffer.concat(parts);
  } else if (cl.length > 0) {
    if (cl.length > 1) problems.push(`${cl.length} Content-Length fields`);
    if (!/^\d+$/.test(cl[0]!)) return { fatal: `Content-Length ${JSON.stringify(cl[0])}` };
    framing = 'length';
    const n = Number(cl[0]);
    if (buf.length < at + n) return null;
    body = Buffer.from(buf.subarray(at, at + n));
    at += n;
  }
  return {
    req: {
      raw: Buffer.from(buf.subarray(0, at)),
      method,
      target,
      version,
      fields,
      framing,
      body,
      trailers,
      problems,
    },
    used: at,
  };
}

/** Start a recording upstream on 127.0.0.1 (port 0). `respond` answers each complete request. */
export async function recordingUpstream(
  respond: Responder = (_req, socket) => socket.write(OK_RESPONSE),
  onConnection?: (socket: net.Socket, conn: RecordedConnection) => void,
): Promise<RecordingUpstream> {
  const server = net.createServer();
  const connections: RecordedConnection[] = [];
  const requests: RecordedRequest[] = [];
  server.on('connection', (socket) => {
    const conn: RecordedConnection = {
      index: connections.length,
      bytes: [],
      requests: [],
      problems: [],
      closed: false,
      socket,
    };
    connections.push(conn);
    let pending: Buffer = Buffer.alloc(0);
    let dead = false;
    socket.on('error', () => {});
    socket.on('close', () => {
      conn.closed = true;
      if (!dead && pending.length > 0)
        conn.problems.push(
          `incomplete request at close: ${JSON.stringify(pending.toString('latin1').slice(0, 80))}`,
        );
    });
    socket.on('data', (d: Buffer) => {
      conn.bytes.push(d);
      if (dead) return;
      pending = pending.length === 0 ? d : Buffer.concat([pending, d]);
      for (;;) {
        if (pending.length === 0) return;
        const r = parseOne(pending);
        if (r === null) return;
        if ('fatal' in r) {
          dead = true;
          conn.problems.push(r.fatal);
          socket.destroy();
          return;
        }
        pending = pending.subarray(r.used);
        const req: RecordedRequest = { conn: conn.index, seq: conn.requests.length, ...r.req };
        conn.requests.push(req);
        requests.push(req);
        respond(req, socket, conn);
      }
    });
    onConnection?.(socket, conn);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    connections,
    requests,
    problems: () => connections.flatMap((c) => c.problems.map((p) => `conn ${c.index}: ${p}`)),
    async close() {
      for (const c of connections) c.socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

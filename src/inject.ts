/**
 * An in-memory engine for tests and tools: `inject(pipeline, request)` runs one request through
 * the same request checks, pipeline, route table and track as a socket would, and resolves with
 * what a client would have received — without a socket (like fastify's `inject()` or hono's
 * `app.request()`). Streamed bodies are read to the end; the body cap, deadlines and the access
 * log apply as usual. `cancel()` on the returned handle plays a client that goes away.
 *
 * ```ts
 * const server = await Server.build(parseConfig(yaml, 'test.yaml'));
 * const res = await inject(server.pipeline, { method: 'POST', url: '/echo?x=1', body: '{"a":1}' });
 * expect(res.status).toBe(200);
 * ```
 */
import { errorReply, syError } from './errors.js';
import { Exchange, Phase, type Reply, type RequestBody } from './exchange.js';
import { releaseBody, replyProblem, statusHasBody } from './http/reply-rules.js';
import {
  beginHead,
  type CopiedRequest,
  collectField,
  endHead,
  type HeaderLimits,
} from './http/request-checks.js';

export interface InjectRequest {
  method?: string;
  /** path and query, e.g. `/echo?x=1` */
  url: string;
  /** header fields; `host` defaults to `localhost` */
  headers?: Record<string, string | string[]>;
  body?: string | Uint8Array;
  /** the peer address the request appears to come from */
  remoteAddress?: string;
  limits?: HeaderLimits;
}

export interface InjectResponse {
  status: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  text(): string;
  json<T = unknown>(): T;
  /** the exchange, for its access-log fields (route, track, errorCode …) */
  exchange: Exchange;
}

const DEFAULT_LIMITS: HeaderLimits = { headers: 100, headerBytes: 16 * 1024, uri: 8 * 1024 };

class MemoryBody implements RequestBody {
  readonly declared: number;
  received = 0;
  limit = Number.POSITIVE_INFINITY;
  private readonly data: Buffer | undefined;
  private readonly owner: InjectedExchange;

  constructor(data: Buffer | undefined, owner: InjectedExchange) {
    this.data = data;
    this.declared = data === undefined ? 0 : data.length;
    this.owner = owner;
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    const d = this.data;
    if (d === undefined || d.length === 0) return;
    if (d.length > this.limit) {
      const err = syError('SY_ERR_BODY_TOO_LARGE', `request body over ${this.limit} bytes`);
      this.owner.overLimit(err);
      throw err;
    }
    this.received = d.length;
    this.owner.bytesIn = d.length;
    yield d;
  }
}

class InjectedExchange extends Exchange {
  readonly body: RequestBody;
  private readonly peer: string;
  private resolve!: (r: InjectResponse) => void;
  readonly done: Promise<InjectResponse>;

  constructor(
    req: InjectRequest,
    copied: CopiedRequest,
    path: string,
    query: string,
    body: Buffer | undefined,
  ) {
    super(req.method ?? 'GET', path, query, copied.headers, undefined);
    this.peer = req.remoteAddress ?? '127.0.0.1';
    this.host = copied.host;
    this.problem = copied.problem;
    if (copied.close) this.closeAfter = true;
    this.body = new MemoryBody(body, this);
    this.done = new Promise((r) => {
      this.resolve = r;
    });
  }

  protected readAddress(): string {
    return this.peer;
  }

  overLimit(err: ReturnType<typeof syError>): void {
    this.errorCode = err.code;
    this.cancel(err);
    void this.send(errorReply(err, false));
  }

  close(): void {
    if (this.phase === Phase.Closed) return;
    this.phase = Phase.Closed;
    this.finish(-1, {}, Buffer.alloc(0));
  }

  async send(reply: Reply): Promise<void> {
    if (this.phase !== Phase.Open) return;
    const problem = replyProblem(reply);
    if (problem !== undefined) {
      this.errorCode = problem.code;
      releaseBody((reply as Reply | null)?.body);
      reply = errorReply(problem, false);
    }
    this.status = reply.status;
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(reply.headers ?? {})) {
      if (v === undefined) continue;
      headers[k.toLowerCase()] = typeof v === 'number' ? String(v) : (v as string | string[]);
    }
    if (this.closeAfter) headers.connection = 'close';
    const body = reply.body;
    const chunks: Buffer[] = [];
    if (this.method === 'HEAD' || !statusHasBody(reply.status)) {
      releaseBody(body);
    } else if (typeof body === 'string' || body instanceof Uint8Array) {
      chunks.push(Buffer.from(body));
    } else if (body !== undefined && body !== null) {
      this.phase = Phase.Streaming;
      try {
        for await (const piece of body) {
          if (this.phase !== Phase.Streaming) return;
          chunks.push(Buffer.from(piece));
        }
      } catch (err) {
        this.errorCode ??= (err as { code?: string }).code ?? 'SY_ERR_STREAM';
        this.close();
        return;
      }
    }
    const all = Buffer.concat(chunks);
    this.bytesOut = all.length;
    this.phase = Phase.Done;
    this.finish(reply.status, headers, all);
  }

  private finish(status: number, headers: Record<string, string | string[]>, body: Buffer): void {
    this.resolve({
      status,
      headers,
      body,
      text: () => body.toString('utf8'),
      json: <T>() => JSON.parse(body.toString('utf8')) as T,
      exchange: this,
    });
  }
}

/** What `inject` needs of a pipeline: its per-request entry point. */
export interface Handles {
  handle(ex: Exchange): void;
}

/**
 * Run one request through `pipeline` in memory. Resolves with the response once it is complete
 * (status -1 when the connection was closed without a complete response).
 */
export function inject(pipeline: Handles, req: InjectRequest): Promise<InjectResponse> & { cancel(): void } {
  const q = req.url.indexOf('?');
  const path = q === -1 ? req.url : req.url.slice(0, q);
  const query = q === -1 ? '' : req.url.slice(q + 1);
  const body = req.body === undefined ? undefined : Buffer.from(req.body);
  const fields: [string, string][] = [];
  let hasHost = false;
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    const name = k.toLowerCase();
    if (name === 'host') hasHost = true;
    for (const x of Array.isArray(v) ? v : [v]) fields.push([name, x]);
  }
  if (!hasHost) fields.unshift(['host', 'localhost']);
  if (body !== undefined && !fields.some(([n]) => n === 'content-length' || n === 'transfer-encoding'))
    fields.push(['content-length', String(body.length)]);
  const copied: CopiedRequest = { headers: [], host: '', close: false, declared: 0, problem: undefined };
  beginHead(req.url.length);
  for (const [n, v] of fields) collectField(n, v);
  endHead(req.limits ?? DEFAULT_LIMITS, copied);
  const ex = new InjectedExchange(req, copied, path, query, copied.declared > 0 ? body : undefined);
  pipeline.handle(ex);
  const done = ex.done as Promise<InjectResponse> & { cancel(): void };
  done.cancel = () => {
    if (ex.phase === Phase.Open || ex.phase === Phase.Streaming) {
      ex.cancel(syError('SY_ERR_CLIENT_GONE'));
      ex.close();
    }
  };
  return done;
}

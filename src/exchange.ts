/**
 * The Exchange: one request and its response, transport-neutral. The engine creates one per
 * request (a fixed shape: every field is assigned in the constructor so V8 keeps one hidden
 * class), copies the request into it synchronously, and implements `send`/`close` and the body.
 * Everything after the engine (pipeline, router, tracks, access log) sees only this.
 */
import { performance } from 'node:perf_hooks';
import type { SwitchyardError } from './errors.js';

/** A value is safe when it has no CR, LF or NUL (RFC 9110 §5.5: those are never valid). */
export function safeValue(v: string): boolean {
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i);
    if (c === 13 || c === 10 || c === 0) return false;
  }
  return true;
}

const ID_OK = /^[A-Za-z0-9._:-]{1,128}$/;
const ID_PREFIX = `${process.pid.toString(36)}${Math.floor(Math.random() * 36 ** 4).toString(36)}`;
let idCounter = 0;

export type HeaderValue = string | readonly string[];
export type ReplyHeaders = Record<string, HeaderValue | number | undefined>;
export type ReplyBody = string | Uint8Array | AsyncIterable<Uint8Array | string> | null | undefined;

/**
 * Marks a Reply that Switchyard's own code built valid (the proxy's, from a head undici's parser
 * and the proxy's field checks accepted): the engine skips re-checking it. Not exported to
 * handlers (src/api.ts), whose replies are always checked.
 */
export const CHECKED: unique symbol = Symbol('reply built valid');

/**
 * What a track answers. `body`: a string or bytes (sent with Content-Length), or an async iterable
 * (streamed with backpressure: chunked, or with Content-Length when `length` is given). Never set
 * content-length / transfer-encoding / connection / date yourself: the engine writes the framing.
 */
export interface Reply {
  status: number;
  headers?: ReplyHeaders | undefined;
  body?: ReplyBody;
  /** exact byte length of an iterable body, when known (e.g. the upstream's Content-Length) */
  length?: number | undefined;
  /** see CHECKED */
  [CHECKED]?: true;
}

/** Who hears a reply that comes later (the pipeline): exactly one of the two, once. */
export interface ReplySink {
  reply(r: Reply): void;
  error(e: unknown): void;
}

/**
 * A reply that comes later, handed over by a callback rather than a promise: the proxy delivers
 * its reply from undici's callback straight to the pipeline, with no promise and no microtask turn
 * between them (docs/performance.md). A wrapper around a track's `run` that needs the reply
 * (compression) turns it into a promise.
 */
export abstract class Later {
  abstract attach(sink: ReplySink): void;

  /** The same reply as a promise, for a caller that must await it. */
  promise(): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => this.attach({ reply: resolve, error: reject }));
  }
}

/** The request body as the engine delivers it: chunks in order, with backpressure. */
export interface RequestBody extends AsyncIterable<Buffer> {
  /** declared Content-Length, or -1 for chunked; 0 when there is no body */
  readonly declared: number;
  /** bytes received so far */
  readonly received: number;
  /** the cap; crossing it answers 413 at once and fails the reader with SY_ERR_BODY_TOO_LARGE */
  limit: number;
}

/** Response progress, as the access log and the pipeline's timeout/abort logic see it. */
export const Phase = {
  /** nothing written yet: an error can still become a proper status */
  Open: 0,
  /** status and headers are on the wire (streaming): an error can only close the connection */
  Streaming: 1,
  /** response complete */
  Done: 2,
  /** the client went away (or we closed the connection): nothing more can be written */
  Closed: 3,
} as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/**
 * What code that only listens for cancellation needs. An AbortSignal is one; so is an Exchange,
 * without allocating an AbortController (≈ 2–3 µs on Node 20, per request, on the proxy path).
 */
/** A listener object (`handleEvent`), as AbortSignal's addEventListener takes it. */
export interface CancelListener {
  handleEvent(event: Event): void;
}

export interface CancelSource {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', listener: CancelListener): void;
  removeEventListener(type: 'abort', listener: CancelListener): void;
}

const ABORT_EVENT = new Event('abort');

function notify(l: CancelListener): void {
  try {
    l.handleEvent(ABORT_EVENT);
  } catch (err) {
    process.emitWarning(err as Error);
  }
}

export abstract class Exchange implements CancelSource {
  // Every field is `declare`d and assigned once in the constructor: no field definition runs
  // before the constructor body (ES2022 class fields would define each one as undefined first).
  // --- request, copied by the engine before any await
  /** case-sensitive method */
  declare readonly method: string;
  /** the raw request path as received, without the query */
  declare readonly rawPath: string;
  /** the raw query string without `?` ('' when absent) */
  declare readonly query: string;
  /** header fields in wire order as [name, value, name, value …], names lower-cased */
  declare readonly headers: string[];
  /** the peer address once read (see `remoteAddress`) */
  declare private address: string | undefined;
  /** the value of the single Host field ('' when absent) */
  declare host: string;
  /** a request check the engine found while copying; the pipeline answers it */
  declare problem: SwitchyardError | undefined;
  /** answer with `Connection: close` (request errors, drain) */
  declare closeAfter: boolean;

  // --- set by the pipeline
  /** the normalised path the router matched on and every track sees */
  declare path: string;
  declare private _id: string | undefined;
  declare readonly startTime: number;
  /** absolute deadline (performance.now() timebase) from the route's timeout; Infinity if none */
  declare deadline: number;
  declare phase: Phase;

  // --- cancellation (lazy: no AbortController until someone asks for `signal`)
  declare private controller: AbortController | undefined;
  /** one listener as itself (the usual case: the proxy's attempt), more as an array */
  declare private cancelListeners: CancelListener | CancelListener[] | undefined;
  /** why the request was cancelled (client gone, timeout, drain), once it was */
  declare cancelReason: SwitchyardError | undefined;

  // --- access-log fields, filled as the request goes
  /** the status written to the client; 0 while (or if) none was */
  declare status: number;
  /**
   * Who ended the connection during this exchange: `server` (Switchyard closed it, or answered
   * with Connection: close), `client` (it went away first); undefined while it stays open.
   */
  declare closedBy: 'client' | 'server' | undefined;
  declare bytesIn: number;
  declare bytesOut: number;
  declare route: string;
  declare track: string;
  declare errorCode: string | undefined;
  declare upstream: string | undefined;
  declare upstreamStatus: number;
  declare upstreamTime: number;
  declare tries: number;
  /** free-form extra fields for the access log (e.g. job timings); undefined until used */
  declare logExtra: Record<string, unknown> | undefined;
  /** the PROXY protocol's source address (a `proxy_protocol` listener, from a trusted peer only) */
  declare proxied: string | undefined;

  // --- the pipeline's list of requests in flight (src/inflight.ts)
  declare listed: boolean;
  declare prevInFlight: Exchange | undefined;
  declare nextInFlight: Exchange | undefined;

  constructor(method: string, rawPath: string, query: string, headers: string[], remoteAddress?: string) {
    this.method = method;
    this.rawPath = rawPath;
    this.query = query;
    this.headers = headers;
    this.address = remoteAddress;
    this.proxied = undefined;
    this.host = '';
    this.problem = undefined;
    this.closeAfter = false;
    this.path = rawPath;
    this._id = undefined;
    this.startTime = performance.now();
    this.deadline = Number.POSITIVE_INFINITY;
    this.phase = Phase.Open;
    this.controller = undefined;
    this.cancelListeners = undefined;
    this.cancelReason = undefined;
    this.status = 0;
    this.closedBy = undefined;
    this.bytesIn = 0;
    this.bytesOut = 0;
    this.route = '';
    this.track = '';
    this.errorCode = undefined;
    this.upstream = undefined;
    this.upstreamStatus = 0;
    this.upstreamTime = 0;
    this.tries = 0;
    this.logExtra = undefined;
    this.listed = false;
    this.prevInFlight = undefined;
    this.nextInFlight = undefined;
  }

  /**
   * The peer address, normalised (IPv4 as a.b.c.d). Read on first use: asking the transport costs
   * something, and most requests never need it when the access log is off.
   */
  get remoteAddress(): string {
    return (this.address ??= this.readAddress());
  }

  /** Transport: the peer address ('' when it can no longer be known). */
  protected abstract readAddress(): string;

  /**
   * Did the request arrive over TLS (the listener's `tls`)? The proxy's X-Forwarded-Proto and a
   * redirect's `$scheme` say `https` then. False for a request that came in no other way.
   */
  get secure(): boolean {
    return false;
  }

  /** The request's body (an empty one when the request has none). */
  abstract readonly body: RequestBody;

  /**
   * Write a reply. Resolves when it is written (or could not be: client gone). Rejects never.
   * A second call, or a call after the client went away, is ignored.
   */
  abstract send(reply: Reply): Promise<void>;

  /** Close the connection at once (after a failure mid-response: never look complete). */
  abstract close(): void;

  /**
   * The request id: the client's `X-Request-Id` when it is a sane token, otherwise a new one
   * (process prefix + counter). Made on first use: with the access log off most requests never ask.
   */
  get id(): string {
    if (this._id === undefined) {
      const given = this.header('x-request-id');
      this._id =
        given !== undefined && ID_OK.test(given) ? given : `${ID_PREFIX}-${(++idCounter).toString(36)}`;
    }
    return this._id;
  }

  /** The first value of a header (names are lower-case), or undefined. */
  header(name: string): string | undefined {
    const h = this.headers;
    for (let i = 0; i < h.length; i += 2) if (h[i] === name) return h[i + 1];
    return undefined;
  }

  /**
   * Aborted when the client goes away, the route's timeout passes or the drain grace ends.
   * Created on first use: requests that never ask pay nothing.
   */
  get signal(): AbortSignal {
    let c = this.controller;
    if (c === undefined) {
      c = this.controller = new AbortController();
      if (this.cancelReason !== undefined) c.abort(this.cancelReason);
    }
    return c.signal;
  }

  /** CancelSource: cancelled (client gone, timeout, drain)? */
  get aborted(): boolean {
    return this.cancelReason !== undefined;
  }

  /** CancelSource: why (a SwitchyardError), once cancelled. */
  get reason(): unknown {
    return this.cancelReason;
  }

  /** CancelSource: `listener.handleEvent()` runs once when the request is cancelled. */
  addEventListener(_type: 'abort', listener: CancelListener): void {
    const l = this.cancelListeners;
    if (l === undefined) this.cancelListeners = listener;
    else if (Array.isArray(l)) l.push(listener);
    else this.cancelListeners = [l, listener];
  }

  removeEventListener(_type: 'abort', listener: CancelListener): void {
    const l = this.cancelListeners;
    if (l === undefined) return;
    if (l === listener) {
      this.cancelListeners = undefined;
      return;
    }
    if (!Array.isArray(l)) return;
    const i = l.indexOf(listener);
    if (i === -1) return;
    // shift down in place: `splice` would allocate the array of what it removed
    for (let j = i + 1; j < l.length; j++) l[j - 1] = l[j]!;
    l.length--;
  }

  /** Cancel everything done on behalf of this request. Idempotent; the first reason wins. */
  cancel(reason: SwitchyardError): void {
    if (this.cancelReason !== undefined) return;
    this.cancelReason = reason;
    this.controller?.abort(reason);
    const listeners = this.cancelListeners;
    if (listeners === undefined) return;
    this.cancelListeners = undefined;
    if (!Array.isArray(listeners)) return notify(listeners);
    for (const l of listeners) notify(l);
  }
}

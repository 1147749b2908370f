/**
 * The proxy track of one route: everything that can be computed from the config is built here at
 * start-up (path rewrite, header rules, the upstream); per request `run` builds the upstream
 * request once, hands it to the attempt loop (or the hedge race), and turns the winning response
 * head into a Reply whose body the engine pulls from undici with backpressure.
 *
 * The request body streams too: the engine's body reader (paused at 256 KiB queued) is undici's
 * request body, with the client's Content-Length when it declared one, chunked otherwise.
 *
 * A response that has already ended when its head is handled (small bodies, the usual case) is
 * answered as one buffer: the engine writes it with a single `end()`, no iteration.
 */
import { performance } from 'node:perf_hooks';
import type { Dispatcher } from 'undici';
import { syError } from '../errors.js';
import { CHECKED, type Exchange, type Reply } from '../exchange.js';
import type { Params } from '../router/router.js';
import type { ProxyRouteConfig } from '../tracks/proxy/schema.js';
import { type Attempt, State } from './attempt.js';
import { Forwarding } from './forwarding.js';
import { hedged } from './hedge.js';
import { UpstreamPath } from './path.js';
import { ForwardBody } from './request-body.js';
import { RequestHeaders } from './request-headers.js';
import { ResponseHeaders } from './response-headers.js';
import type { Trust } from './trust.js';
import type { Upstream } from './upstream.js';

/** Hedging sends the request twice: only for methods that are safe to repeat (RFC 9110 §9.2.1). */
const HEDGEABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

export class ProxyRoute {
  private readonly upstream: Upstream;
  private readonly path: UpstreamPath;
  private readonly requestHeaders: RequestHeaders;
  private readonly responseHeaders: ResponseHeaders;
  private readonly hedge: number;

  /** `where`: the route's config path (`routes[2]`) for start-up errors. */
  constructor(route: ProxyRouteConfig, where: string, upstream: Upstream, trust: Trust) {
    this.upstream = upstream;
    this.path = new UpstreamPath(route);
    this.requestHeaders = new RequestHeaders(route, where, trust);
    this.responseHeaders = new ResponseHeaders(route, where);
    this.hedge = upstream.primaries > 1 ? upstream.hedge : 0;
  }

  /** The track function (`CompiledRoute.run`). */
  readonly run = (ex: Exchange, _params: Params): Promise<Reply> | Forwarding => this.forward(ex);

  private forward(ex: Exchange): Promise<Reply> | Forwarding {
    const path = this.path.build(ex);
    const headers = this.requestHeaders.build(ex);
    const source = ex.body;
    let body: ForwardBody | null = null;
    if (source.declared !== 0) {
      body = new ForwardBody(source);
      if (source.declared > 0) headers.push('content-length', String(source.declared));
    }
    // undici's types list Readable bodies only; an async iterable is supported (and documented).
    const opts = {
      path,
      method: ex.method,
      headers,
      body: body as unknown as Dispatcher.DispatchOptions['body'],
    };
    const f = new Forwarding(ex, this.upstream, opts, body, this.makeReply);
    if (this.hedge !== 0 && body === null && HEDGEABLE.has(ex.method)) return this.forwardHedged(f);
    return f;
  }

  private async forwardHedged(f: Forwarding): Promise<Reply> {
    const ex = f.ex;
    let a: Attempt;
    try {
      a = await hedged(f, this.hedge);
    } finally {
      if (f.errors !== undefined) ex.logExtra = { ...ex.logExtra, upstream_errors: f.errors };
    }
    return this.reply(ex, a);
  }

  private readonly makeReply = (ex: Exchange, a: Attempt): Reply => this.reply(ex, a);

  private reply(ex: Exchange, a: Attempt): Reply {
    const status = a.status;
    ex.upstreamStatus = status;
    ex.upstreamTime = performance.now() - a.startTime;
    const rh = this.responseHeaders;
    const headers = status <= 599 ? rh.filter(a.rawHeaders) : null;
    if (headers === null) {
      a.release();
      a.peer.failed(performance.now(), 'SY_ERR_UPSTREAM_BAD_RESPONSE');
      throw syError(
        'SY_ERR_UPSTREAM_BAD_RESPONSE',
        `upstream ${a.peer.address}: ${status > 599 ? `status ${status}` : 'invalid header value'}`,
      );
    }
    if (a.state === State.Ended && ex.method !== 'HEAD')
      return { status, headers, body: a.takeAll(), [CHECKED]: true };
    // The body already failed (in the parser run that brought the head, or after a hedge race,
    // which waits for the loser to wind down): nothing is sent yet, so answer the error rather
    // than a head cut short.
    if (a.state === State.Failed) throw a.bodyError();
    a.ex = ex;
    return { status, headers, body: a, length: rh.length, [CHECKED]: true };
  }
}

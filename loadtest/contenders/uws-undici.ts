/**
 * Floor of our own stack for the proxy scenarios: uWebSockets.js in front, undici `Pool.dispatch`
 * behind it with the leanest handler undici accepts (the legacy `onHeaders`/`onData`/`onComplete`
 * callbacks, raw header buffers, no Readable). It forwards the method and path and copies the
 * status, content-type and body; no checks, no header rules, no log. Switchyard's proxy is
 * reported as a CPU ratio to this: what our code costs on top of the two libraries it uses.
 *
 * `--fields=proxy` (the `uws-undici-fields` contender) makes undici do the request-field work a
 * proxy cannot skip, so that a profile can tell it apart from ours: the four forwarding fields
 * Switchyard sends beside Host (X-Forwarded-For from the peer address uWS reads per request,
 * X-Forwarded-Proto, X-Forwarded-Host, X-Request-Id), and every response field copied but Date and
 * Content-Length (still without checks or rules).
 * Usage: node dist/loadtest/contenders/uws-undici.js --port N --upstream http://127.0.0.1:M [--fields=proxy]
 */

import uWS from 'uWebSockets.js';
import { Pool } from 'undici';
import { childArgs, exitWithParent } from '../lib/child.js';

const { port, values } = childArgs();
exitWithParent();
const upstream = values.upstream;
if (!upstream) {
  process.stderr.write('uws-undici: --upstream URL is required\n');
  process.exit(2);
}

const pool = new Pool(upstream, { connections: 64, pipelining: 1, keepAliveTimeout: 60_000 });
const HOST = new URL(upstream).host;
const PROXY_FIELDS = values.fields === 'proxy';
let ids = 0;

/** The request fields: Host alone, or what a proxy sends (`--fields=proxy`). */
function fields(res: uWS.HttpResponse, req: uWS.HttpRequest): string[] {
  if (!PROXY_FIELDS) return ['host', HOST];
  const host = req.getHeader('host');
  return [
    'host',
    host,
    'x-forwarded-for',
    Buffer.from(res.getRemoteAddressAsText()).toString(),
    'x-forwarded-proto',
    'http',
    'x-forwarded-host',
    host,
    'x-request-id',
    `floor-${(++ids).toString(36)}`,
  ];
}

/** One proxied exchange; undici calls these methods (the legacy handler protocol). */
class Exchange {
  aborted = false;
  status = 0;
  contentType: Buffer | null = null;
  /** with `--fields=proxy`: [name, value, …] of the response fields to copy */
  copied: string[] | null = null;
  chunks: Buffer[] = [];
  constructor(readonly res: uWS.HttpResponse) {}
  onConnect(abort: (err?: Error) => void): void {
    if (this.aborted) abort();
  }
  onHeaders(status: number, raw: Buffer[]): boolean {
    this.status = status;
    if (PROXY_FIELDS) {
      const out: string[] = [];
      for (let i = 0; i < raw.length; i += 2) {
        const name = raw[i]!.toString('latin1').toLowerCase();
        if (name !== 'date' && name !== 'content-length') out.push(name, raw[i + 1]!.toString('latin1'));
      }
      this.copied = out;
      return true;
    }
    for (let i = 0; i < raw.length; i += 2) {
      const name = raw[i]!;
      if (name.length === 12 && name.toString('latin1').toLowerCase() === 'content-type') {
        this.contentType = raw[i + 1]!;
      }
    }
    return true;
  }
  onData(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    return true;
  }
  onComplete(): void {
    if (this.aborted) return;
    const body = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.res.cork(() => {
      this.res.writeStatus(String(this.status));
      if (this.contentType) this.res.writeHeader('content-type', this.contentType);
      const copied = this.copied;
      if (copied !== null)
        for (let i = 0; i < copied.length; i += 2) this.res.writeHeader(copied[i]!, copied[i + 1]!);
      this.res.end(body);
    });
  }
  onError(): void {
    if (this.aborted) return;
    this.res.cork(() => this.res.writeStatus('502 Bad Gateway').end());
  }
  onUpgrade(): void {}
  onBodySent(): void {}
}

uWS
  .App()
  .get('/*', (res, req) => {
    const ex = new Exchange(res);
    res.onAborted(() => {
      ex.aborted = true;
    });
    pool.dispatch(
      { origin: upstream, path: req.getUrl(), method: 'GET', headers: fields(res, req) },
      ex as never,
    );
  })
  .listen('127.0.0.1', port, (token) => {
    if (!token) {
      process.stderr.write(`uws-undici: cannot listen on 127.0.0.1:${port}\n`);
      process.exit(1);
    }
  });

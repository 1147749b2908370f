/** HTTP clients over node:http, for tests that need a plain, well-behaved client. */
import http from 'node:http';

export interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** the response ended properly (false: the connection closed mid-body) */
  complete: boolean;
  error?: string;
}

/** One request with a fresh connection; never rejects for HTTP-level outcomes. */
export function get(
  url: string,
  opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: string | Buffer } = {},
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: opts.method ?? 'GET', headers: opts.headers, agent: false });
    req.on('error', (err) => {
      if ((err as NodeJS.ErrnoException).code === 'ECONNRESET' || err.message === 'socket hang up')
        resolve({ status: 0, headers: {}, body: '', complete: false, error: err.message });
      else reject(err);
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = (complete: boolean, error?: string) =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
          complete,
          ...(error === undefined ? {} : { error }),
        });
      res.on('end', () => done(res.complete));
      res.on('error', (err) => done(false, err.message));
      res.on('aborted', () => done(false, 'aborted'));
    });
    req.end(opts.body);
  });
}

/** GET a URL over a fresh connection; resolves with the status and the body parsed as JSON (or text). */
export function getJson<T = unknown>(url: string): Promise<{ status: number; body: T; ms: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    http
      .get(url, { agent: false }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          text += d;
        });
        res.on('end', () => {
          let body: unknown = text;
          try {
            body = JSON.parse(text);
          } catch {}
          resolve({ status: res.statusCode!, body: body as T, ms: performance.now() - t0 });
        });
      })
      .on('error', reject);
  });
}

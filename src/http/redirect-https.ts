/**
 * `redirect_https: true` on a plain listener: every request is answered with a redirect to the
 * same host and target on the https listener, as nginx's `return 301 https://$host$request_uri`.
 * GET and HEAD get 301; other methods 308, which keeps the method and body (RFC 9110 §15.4.9).
 * The request checks still run first: a malformed request gets its 4xx, not a redirect.
 */
import { errorReply, syError } from '../errors.js';
import type { Exchange } from '../exchange.js';
import { type Logs, logAccess } from '../observe/log.js';

/** host[:port] or [v6][:port] → the host part, or undefined when it is not a plain host name. */
const HOST = /^([A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** visible ASCII only: the target goes into a Location header as received */
const TARGET = /^[\x21-\x7e]*$/;

/** The engine's `handle` for a redirecting listener; `httpsPort()` is read per request (it may bind later). */
export function redirectToHttps(httpsPort: () => number, logs: Logs): (ex: Exchange) => void {
  return (ex) => {
    ex.track = 'redirect_https';
    const host = HOST.exec(ex.host)?.[1];
    const target = ex.query === '' ? ex.rawPath : `${ex.rawPath}?${ex.query}`;
    let sent: Promise<void>;
    if (ex.problem !== undefined || host === undefined || !TARGET.test(target)) {
      const err =
        ex.problem ??
        (host === undefined ? syError('SY_ERR_BAD_HOST') : syError('SY_ERR_BAD_PATH', 'not visible ASCII'));
      ex.errorCode = err.code;
      ex.closeAfter = true;
      sent = ex.send(errorReply(err, false));
    } else {
      const port = httpsPort();
      const location = `https://${port === 443 ? host : `${host}:${port}`}${target}`;
      if (ex.body.declared !== 0) ex.closeAfter = true; // the body is never read
      sent = ex.send({
        status: ex.method === 'GET' || ex.method === 'HEAD' ? 301 : 308,
        headers: { location, 'content-type': 'text/plain; charset=utf-8' },
        body: `${location}\n`,
      });
    }
    if (logs.access !== null) {
      const access = logs.access;
      void sent.then(() => logAccess(access, ex));
    }
  };
}

/**
 * The config keys of operating a server (README "Operating"): how it stops and what the probes
 * answer on. `pid:` is a plain path in the top-level schema.
 */
import { z } from 'zod';
import { duration } from './fields.js';

export const shutdown = z.strictObject({
  /** after the stop signal: how long in-flight requests may finish before they are cancelled */
  grace: duration.default(10_000),
  /** before the drain: readiness fails while requests are still served (balancers notice) */
  delay: duration.default(0),
});

/** built-in health endpoints, answered before routing (off unless given) */
export const probes = z.strictObject({
  /** 200 while serving; 503 while starting and from the first moment of a drain */
  readiness: z.string().startsWith('/', 'a path starts with /').optional(),
  /** 200 until the process exits */
  liveness: z.string().startsWith('/', 'a path starts with /').optional(),
});

/**
 * One listener's `proxy_protocol`: `true` takes v1 or v2 on the node engine and v2 on uWS; `v1` or
 * `v2` takes only that one. uWS parses only v2 (it answers nothing to v1: docs/proxy-protocol.md).
 */
export function listenerProxyProtocol(
  l: {
    kind: string;
    engine?: 'uws' | 'node' | undefined;
    h2c?: boolean | undefined;
    tls?: unknown;
    proxy_protocol?: boolean | 'v1' | 'v2' | undefined;
  },
  ctx: z.RefinementCtx,
): void {
  if (l.proxy_protocol === undefined || l.proxy_protocol === false) return;
  const issue = (message: string) => ctx.addIssue({ code: 'custom', path: ['proxy_protocol'], message });
  if (l.kind === 'tcp') issue('only http listeners take proxy_protocol');
  else if (l.h2c === true) issue('not with h2c (HTTP/2 with prior knowledge reads the socket itself)');
  else if (l.tls !== undefined && l.engine !== 'node')
    issue(
      'with tls, set engine: node on this listener: uWS looks for the PROXY header inside TLS, and balancers send it before the handshake',
    );
  else if (l.proxy_protocol === 'v1' && l.engine !== 'node')
    issue(
      'PROXY protocol v1 is not parsed by the uWS engine (this build answers nothing to it and closes after ~10 s): set engine: node on this listener, or send v2 (HAProxy: send-proxy-v2)',
    );
}

/** `proxy_protocol` needs `trusted_proxies`. */
export function proxyProtocolProblems(
  c: {
    listen: { proxy_protocol?: boolean | 'v1' | 'v2' | undefined }[];
    trusted_proxies: string[];
  },
  ctx: z.RefinementCtx,
): void {
  c.listen.forEach((l, i) => {
    if (!l.proxy_protocol) return;
    const path = ['listen', i, 'proxy_protocol'];
    if (c.trusted_proxies.length === 0)
      ctx.addIssue({
        code: 'custom',
        path,
        message: 'needs trusted_proxies: the balancers whose PROXY header is believed',
      });
  });
}

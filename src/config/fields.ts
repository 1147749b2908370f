/**
 * The field types every part of the config schema is built from: sizes and durations with units,
 * ports, names, header names and values. Track schemas (src/tracks/*) import these too.
 */
import proxyaddr from 'proxy-addr';
import { z } from 'zod';
import { parseDuration, parseRate, parseSize } from './units.js';

// A value of another type (true, a list, a map) gets the same message as a bad string, not zod's
// bare "Invalid input" for a failed union.
export const size = z
  .union([z.string(), z.number()], { error: 'expected a size such as 512, 64KiB, 1MiB, 2g' })
  .transform((v, ctx) => {
    const r = parseSize(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'bytes, or a size such as 64KiB, 1MiB' });

export const duration = z
  .union([z.string(), z.number()], { error: 'expected a duration such as 250ms, 30s, 5m, 1h' })
  .transform((v, ctx) => {
    const r = parseDuration(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'a duration such as 250ms, 30s, 5m' });

export const rate = z
  .union([z.string(), z.number()], { error: 'expected a rate such as 100/s, 600/m, 1000/h' })
  .transform((v, ctx) => {
    const r = parseRate(v);
    if (typeof r === 'string') {
      ctx.addIssue({ code: 'custom', message: r });
      return z.NEVER;
    }
    return r;
  })
  .meta({ description: 'a rate such as 100/s, 600/m, 1000/h (stored as per second)' });

/** Where a per-request key comes from: the client address, a header, or a cookie. */
export const requestKey = z
  .string()
  .regex(
    /^(ip|header:[!#$%&'*+.^_`|~0-9A-Za-z-]+|cookie:[^=;\s]+)$/,
    'expected ip, header:NAME or cookie:NAME',
  );

export const port = z.number().int().min(0).max(65535);
export const headerName = z.string().regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'invalid header name');
export const headerValue = z.string().regex(/^[^\r\n\0]*$/, 'header value must not contain CR, LF or NUL');
export const headerMap = z.record(headerName, headerValue);
export const name = z
  .string()
  .regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/, 'expected a name of letters, digits, _ . -');
export const httpMethod = z.string().regex(/^[A-Z]+$/, 'methods are upper-case tokens such as GET');

/** proxy-addr's syntax: an address, a CIDR, or loopback / linklocal / uniquelocal. */
export const proxyAddrEntry = z
  .string()
  .min(1)
  .superRefine((v, ctx) => {
    try {
      proxyaddr.compile(v);
    } catch (err) {
      ctx.addIssue({ code: 'custom', message: (err as Error).message });
    }
  });

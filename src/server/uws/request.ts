/**
 * Copying a uWS request head into plain values. `HttpRequest` is valid only during the
 * synchronous part of uWS's handler, so this runs first, before anything can await.
 */
import type { HttpRequest } from 'uWebSockets.js';
import {
  beginHead,
  type CopiedRequest,
  collectField,
  endHead,
  type HeaderLimits,
} from '../../http/request-checks.js';

/** Copy the header fields of `req` and run the request checks. Call synchronously in the handler. */
export function copyRequest(
  req: HttpRequest,
  targetLength: number,
  limits: HeaderLimits,
  out: CopiedRequest,
): void {
  beginHead(targetLength);
  req.forEach(collectField);
  endHead(limits, out);
}

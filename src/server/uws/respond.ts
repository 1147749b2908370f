/** Writing a validated reply's headers with uWS (inside cork), skipping the fields uWS writes itself. */
import type { HttpResponse } from 'uWebSockets.js';
import type { ReplyHeaders } from '../../exchange.js';
import { headerName } from '../../http/reply-rules.js';

/** Write validated headers, skipping framing fields. Call inside cork. */
export function writeHeaders(res: HttpResponse, headers: ReplyHeaders | undefined): void {
  if (headers === undefined) return;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const lower = headerName(name); // validated by replyProblem: null = framing, written by uWS
    if (lower == null) continue;
    if (typeof v === 'string') res.writeHeader(lower, v);
    else if (typeof v === 'number') res.writeHeader(lower, String(v));
    else for (const x of v) res.writeHeader(lower, x);
  }
}

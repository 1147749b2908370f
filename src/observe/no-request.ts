/**
 * Connections that closed without a complete request — probes that connect and leave, heads that
 * never finish, bytes that are not HTTP, failed TLS handshakes — are counted and written to the
 * error log as ONE line per interval, with the count by reason; no line when there were none.
 * nginx writes an info line per such connection: a port scan or a load balancer's TCP checks
 * would flood the log. Only engines that see connections count them (the node engine; the uWS
 * build shows JavaScript requests only).
 */
import type { Logger } from 'pino';

/**
 * - `closed`: the client closed first (no byte, part of a head, a TLS client that left mid-handshake,
 *   an HTTP/2 session with no stream);
 * - `timeout`: no complete head (or TLS handshake) within `limits.header_timeout`;
 * - `malformed`: bytes that are not an HTTP request (answered 400 and closed);
 * - `tls`: the TLS handshake failed (not TLS, no common protocol or cipher).
 */
export type NoRequestReason = 'closed' | 'timeout' | 'malformed' | 'tls';

export const NO_REQUEST_MSG = 'connections closed without a request';

export class NoRequestTally {
  private readonly log: Logger;
  readonly intervalMs: number;
  private reasons: Partial<Record<NoRequestReason, number>> = {};
  private total = 0;
  private timer: NodeJS.Timeout | undefined = undefined;
  private stopped = false;

  constructor(log: Logger, intervalMs: number) {
    this.log = log;
    this.intervalMs = intervalMs;
  }

  /** One connection closed without a request; the first of an interval starts its timer. */
  count = (reason: NoRequestReason): void => {
    if (this.stopped) return;
    this.reasons[reason] = (this.reasons[reason] ?? 0) + 1;
    if (this.total++ === 0) {
      this.timer = setTimeout(this.flush, this.intervalMs);
      this.timer.unref();
    }
  };

  /** Write the interval's line (if anything was counted) and start a new interval. */
  flush = (): void => {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.total === 0) return;
    this.log.info(
      { connections: this.total, reasons: this.reasons, interval_ms: this.intervalMs },
      NO_REQUEST_MSG,
    );
    this.reasons = {};
    this.total = 0;
  };

  /** Write what was counted and count no more: connections a shutdown closes are not the clients' doing. */
  stop(): void {
    this.flush();
    this.stopped = true;
  }
}

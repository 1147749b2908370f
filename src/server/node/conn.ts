/**
 * HTTP/1 connection state that node:http does not keep for us:
 *
 * - how many of the connection's requests are still being answered (node answers pipelined
 *   requests in order, but dispatches them at once);
 * - whether an answer closes the connection: then a request pipelined behind it is never
 *   processed (RFC 9112 §9.6) — a refused request cannot carry a second one to a track;
 * - a refusal of unparseable bytes (llhttp's error) that waits for the answers before it, so
 *   responses stay in request order.
 */
import type { Duplex } from 'node:stream';

const kConn = Symbol('switchyard.conn');

type WithConn = Duplex & { [kConn]?: Conn };

export class Conn {
  /** requests dispatched and not yet answered (or abandoned) */
  pending = 0;
  /** an answer closes the connection: later requests are not processed */
  closing = false;
  /** unparseable bytes were answered (or will be): no second refusal */
  refused = false;
  private after: (() => void) | undefined = undefined;
  /** the latest request dispatched (a parse error after its head may be in its body) */
  current:
    | {
        failBody(err: import('../../errors.js').SwitchyardError): boolean;
        clientGone(): void;
        timedOut(): void;
      }
    | undefined = undefined;

  /** The state of `socket`, made on first use. */
  static of(socket: Duplex): Conn {
    const s = socket as WithConn;
    let c = s[kConn];
    if (c === undefined) c = s[kConn] = new Conn();
    return c;
  }

  started(): void {
    this.pending++;
  }

  /** A request's response closed (finished or abandoned). */
  finished(): void {
    if (--this.pending === 0) this.current = undefined;
    if (this.pending === 0 && this.after !== undefined) {
      const fn = this.after;
      this.after = undefined;
      fn();
    }
  }

  close(): void {
    this.closing = true;
  }

  /** Run `fn` once every request dispatched so far has been answered; nothing more is processed. */
  afterAnswers(fn: () => void): void {
    this.closing = true;
    if (this.pending === 0) fn();
    else this.after = fn;
  }
}

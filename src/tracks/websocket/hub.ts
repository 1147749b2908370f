/**
 * Topics for pub/sub in this thread: topic → the connections subscribed to it. `publish` sends to
 * each in subscription order, synchronously, so the messages of one publisher reach every
 * subscriber in the order they were published. One hub per thread (module state: each acceptor
 * thread has its own module graph). With acceptor threads, `relayTo` sends every local publish to
 * the supervisor, which passes it to the other acceptors in the order it arrived; they deliver it
 * with `deliverLocal`. One publisher's messages therefore reach every thread in order.
 */

export interface Subscriber {
  /** false: not delivered now (socket gone or past its buffer); see WsConnection.send */
  deliver(data: string | Uint8Array, binary: boolean): boolean;
}

const topics = new Map<string, Set<Subscriber>>();

export function subscribe(topic: string, s: Subscriber): void {
  let set = topics.get(topic);
  if (set === undefined) topics.set(topic, (set = new Set()));
  set.add(s);
}

export function unsubscribe(topic: string, s: Subscriber): void {
  const set = topics.get(topic);
  if (set === undefined) return;
  set.delete(s);
  if (set.size === 0) topics.delete(topic);
}

/** A publish for the other threads (the acceptor posts it to the supervisor). */
export interface Relayed {
  topic: string;
  data: string | Uint8Array;
}

let relay: ((m: Relayed) => void) | undefined;

/** Acceptor threads: where local publishes are copied for the other threads. */
export function relayTo(fn: ((m: Relayed) => void) | undefined): void {
  relay = fn;
}

/** Send `data` to every subscriber of `topic`, in this thread and (relayed) every other. */
export function publish(topic: string, data: string | Uint8Array): number {
  relay?.({ topic, data });
  return deliverLocal(topic, data);
}

/** Send to this thread's subscribers only (text for a string); returns how many there were. */
export function deliverLocal(topic: string, data: string | Uint8Array): number {
  const set = topics.get(topic);
  if (set === undefined) return 0;
  const binary = typeof data !== 'string';
  // A string is encoded once, not once per subscriber (the engine would encode each send).
  const bytes = binary || set.size === 1 ? data : Buffer.from(data);
  for (const s of set) s.deliver(bytes, binary);
  return set.size;
}

/** How many connections are subscribed to `topic` in this thread. */
export function subscribers(topic: string): number {
  return topics.get(topic)?.size ?? 0;
}

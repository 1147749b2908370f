/**
 * Balancing policies. Each works on one tier of an upstream (its primaries, or its backups) and
 * answers one question: which peer, among those not yet tried for this request and (when
 * `healthy`) available, gets the next attempt? `undefined` when none qualifies. Tiers, panic and
 * retries are upstream.ts's business.
 *
 * - `round-robin`: nginx's smooth weighted round-robin (weights 5,1,1 give a a b a c a a, not
 *   a a a a a b c).
 * - `least-conn`: fewest requests in flight relative to weight; ties rotate.
 * - `hash`: consistent hash (ring.ts) of the request's key; without a key, round-robin.
 * - `random-two`: two distinct peers at random, the less loaded one wins (power of two choices).
 *
 * Per call: no allocation; O(peers) (hash: a binary search, then a walk past skipped peers).
 */
import type { Peer } from './peer.js';
import { HashRing, hashKey } from './ring.js';

export type BalanceName = 'round-robin' | 'least-conn' | 'hash' | 'random-two';

export interface Balancer {
  choose(key: string | undefined, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined;
}

function usable(p: Peer, tried: readonly Peer[], healthy: boolean, now: number): boolean {
  if (healthy && !p.available(now)) return false;
  for (let i = 0; i < tried.length; i++) if (tried[i] === p) return false;
  return true;
}

/** Is `a` less loaded than `b`, weights considered? (a.active/a.weight < b.active/b.weight) */
function lighter(a: Peer, b: Peer): boolean {
  return a.active * b.weight < b.active * a.weight;
}

class RoundRobin implements Balancer {
  private readonly current: Float64Array;
  constructor(private readonly peers: readonly Peer[]) {
    this.current = new Float64Array(peers.length);
  }

  choose(_key: string | undefined, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined {
    const peers = this.peers;
    const cur = this.current;
    let total = 0;
    let best = -1;
    for (let i = 0; i < peers.length; i++) {
      const p = peers[i]!;
      if (!usable(p, tried, healthy, now)) continue;
      cur[i]! += p.weight;
      total += p.weight;
      if (best === -1 || cur[i]! > cur[best]!) best = i;
    }
    if (best === -1) return undefined;
    cur[best]! -= total;
    return peers[best];
  }
}

class LeastConn implements Balancer {
  private next = 0;
  constructor(private readonly peers: readonly Peer[]) {}

  choose(_key: string | undefined, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined {
    const peers = this.peers;
    const n = peers.length;
    const start = this.next++ % n;
    let best: Peer | undefined;
    for (let k = 0; k < n; k++) {
      const p = peers[(start + k) % n]!;
      if (!usable(p, tried, healthy, now)) continue;
      if (best === undefined || lighter(p, best)) best = p;
    }
    return best;
  }
}

class RandomTwo implements Balancer {
  constructor(private readonly peers: readonly Peer[]) {}

  choose(_key: string | undefined, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined {
    const peers = this.peers;
    let count = 0;
    for (const p of peers) if (usable(p, tried, healthy, now)) count++;
    if (count === 0) return undefined;
    const ia = Math.floor(Math.random() * count);
    const a = this.nth(ia, tried, healthy, now)!;
    if (count === 1) return a;
    // A second, distinct one: uniform over the other count - 1.
    let ib = Math.floor(Math.random() * (count - 1));
    if (ib >= ia) ib++;
    const b = this.nth(ib, tried, healthy, now)!;
    return lighter(b, a) ? b : a;
  }

  private nth(n: number, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined {
    for (const p of this.peers) {
      if (!usable(p, tried, healthy, now)) continue;
      if (n-- === 0) return p;
    }
    return undefined;
  }
}

class ConsistentHash implements Balancer {
  private readonly ring: HashRing;
  private readonly fallback: RoundRobin;
  constructor(private readonly peers: readonly Peer[]) {
    this.ring = new HashRing(peers.map((p) => ({ id: p.address, weight: p.weight })));
    this.fallback = new RoundRobin(peers);
  }

  choose(key: string | undefined, tried: readonly Peer[], healthy: boolean, now: number): Peer | undefined {
    if (key === undefined) return this.fallback.choose(key, tried, healthy, now);
    const ring = this.ring;
    const start = ring.start(hashKey(key));
    // Walk clockwise past peers that are tried or down: the key moves to the next server on the
    // ring, and only keys of that server move.
    for (let i = 0; i < ring.size; i++) {
      const p = this.peers[ring.ownerAt(start + i)]!;
      if (usable(p, tried, healthy, now)) return p;
    }
    return undefined;
  }
}

export function createBalancer(name: BalanceName, peers: readonly Peer[]): Balancer {
  switch (name) {
    case 'round-robin':
      return new RoundRobin(peers);
    case 'least-conn':
      return new LeastConn(peers);
    case 'random-two':
      return new RandomTwo(peers);
    case 'hash':
      return new ConsistentHash(peers);
  }
}

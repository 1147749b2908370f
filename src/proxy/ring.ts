/**
 * The consistent-hash ring for `balance: hash` (ketama, as nginx's `hash … consistent`): every
 * server gets 160 points per unit of weight, placed by MD5 of its address, so the points of a
 * server do not depend on which other servers exist. Removing (or skipping) a server moves only
 * the keys that landed on it; every other key keeps its server.
 *
 * Built once at start-up; a lookup is one string hash and one binary search.
 */
import { createHash } from 'node:crypto';

const POINTS_PER_WEIGHT = 160;

/** FNV-1a over the UTF-16 code units, then murmur3's fmix32 so close keys spread over the ring. */
export function hashKey(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export class HashRing {
  /** sorted point positions */
  private readonly points: Uint32Array;
  /** owner (index into the member list) of each point */
  private readonly owners: Uint16Array;

  /** `members`: a stable identity (the address) and weight per member, in member order. */
  constructor(members: readonly { id: string; weight: number }[]) {
    const pairs: [number, number][] = [];
    members.forEach((m, owner) => {
      const n = POINTS_PER_WEIGHT * m.weight;
      // Four 32-bit points per MD5 digest, as ketama does.
      for (let i = 0; i < n / 4; i++) {
        const d = createHash('md5').update(`${m.id}-${i}`).digest();
        for (let j = 0; j < 4 && i * 4 + j < n; j++) pairs.push([d.readUInt32LE(j * 4), owner]);
      }
    });
    pairs.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
    this.points = Uint32Array.from(pairs, (p) => p[0]);
    this.owners = Uint16Array.from(pairs, (p) => p[1]);
  }

  get size(): number {
    return this.points.length;
  }

  /** The first point at or after `hash` (wrapping to 0). */
  start(hash: number): number {
    const pts = this.points;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (pts[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === pts.length ? 0 : lo;
  }

  /** Owner of the point at position `i` (mod the ring size). */
  ownerAt(i: number): number {
    return this.owners[i % this.owners.length]!;
  }
}

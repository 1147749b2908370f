/**
 * Balancing through a real Switchyard server to real upstreams: weighted round-robin, least-conn,
 * consistent hash (stable, few moves when a server goes), random-two, and backups.
 */
import type http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { HashRing, hashKey } from '../../src/proxy/ring.js';
import { get } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { httpUpstream, namedUpstream, type Upstream } from '../helpers/upstreams.js';
import { until } from '../helpers/wait.js';

const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function upstreams(names: string[]): Promise<Upstream[]> {
  const ups = await Promise.all(names.map((n) => namedUpstream(n)));
  for (const u of ups) cleanup.push(() => u.close());
  return ups;
}

async function proxy(yaml: string): Promise<TestServer> {
  const p = await startServer(yaml);
  cleanup.push(() => p.close());
  return p;
}

async function tally(
  url: string,
  n: number,
  headers?: http.OutgoingHttpHeaders,
): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const r = await get(url, { headers });
    expect(r.status).toBe(200);
    counts[r.body] = (counts[r.body] ?? 0) + 1;
  }
  return counts;
}

describe('round-robin', () => {
  it('spreads requests exactly by weight, interleaved', async () => {
    const [a, b, c] = await upstreams(['a', 'b', 'c']);
    const p = await proxy(`
upstreams:
  u:
    servers: [{ url: "${a!.url}", weight: 3 }, { url: "${b!.url}" }, { url: "${c!.url}" }]
routes: [{ path: "/*", proxy: u }]
`);
    const order: string[] = [];
    for (let i = 0; i < 50; i++) order.push((await get(`${p.url}/x`)).body);
    const counts = Object.fromEntries(['a', 'b', 'c'].map((n) => [n, order.filter((o) => o === n).length]));
    expect(counts).toEqual({ a: 30, b: 10, c: 10 });
    // smooth: never three a's in a row (nginx's sequence for 3,1,1 is a b a c a)
    expect(order.join('')).not.toContain('aaa');
  });
});

describe('least-conn', () => {
  it('prefers the idle server while another holds a request', async () => {
    const held: http.ServerResponse[] = [];
    const make = (name: string) =>
      httpUpstream((req, res) => {
        if (req.url === '/hold') held.push(res);
        else res.end(name);
      });
    const a = await make('a');
    const b = await make('b');
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const p = await proxy(`
upstreams:
  u: { servers: [{ url: "${a.url}" }, { url: "${b.url}" }], balance: least-conn }
routes: [{ path: "/*", proxy: u }]
`);
    const slow = get(`${p.url}/hold`);
    await until(() => held.length === 1, 'the held request');
    const busy = a.hits === 1 ? 'a' : 'b';
    const idle = busy === 'a' ? 'b' : 'a';
    const counts = await tally(`${p.url}/fast`, 6);
    expect(counts).toEqual({ [idle]: 6 });
    held[0]!.end(busy);
    expect((await slow).body).toBe(busy);
    // once both are idle again, ties rotate over both
    const after = await tally(`${p.url}/fast`, 6);
    expect(Object.keys(after).sort()).toEqual(['a', 'b']);
  });
});

describe('consistent hash', () => {
  const keys = Array.from({ length: 200 }, (_, i) => `user-${i}`);

  async function mapping(url: string): Promise<Map<string, string>> {
    const m = new Map<string, string>();
    for (const k of keys) m.set(k, (await get(url, { headers: { 'x-user': k } })).body);
    return m;
  }

  it('is stable for a key, and removing a server moves only its keys', async () => {
    const [a, b, c, d] = await upstreams(['a', 'b', 'c', 'd']);
    const servers = (list: Upstream[]) => list.map((u) => `{ url: "${u.url}" }`).join(', ');
    const conf = (list: Upstream[]) => `
upstreams:
  u: { servers: [${servers(list)}], balance: hash, hash_key: "header:X-User" }
routes: [{ path: "/*", proxy: u }]
`;
    const p4 = await proxy(conf([a!, b!, c!, d!]));
    const first = await mapping(`${p4.url}/k`);
    const again = await mapping(`${p4.url}/k`);
    expect(again).toEqual(first);
    const share = (n: string) => [...first.values()].filter((v) => v === n).length;
    for (const n of ['a', 'b', 'c', 'd']) expect(share(n)).toBeGreaterThan(20); // 50 each on average

    const p3 = await proxy(conf([a!, b!, c!]));
    const without = await mapping(`${p3.url}/k`);
    let moved = 0;
    for (const k of keys) {
      if (first.get(k) === 'd') expect(without.get(k)).not.toBe('d');
      else expect(without.get(k)).toBe(first.get(k));
      if (without.get(k) !== first.get(k)) moved++;
    }
    expect(moved).toBe(share('d'));
  });

  it('a server that is down hands only its own keys to the next one on the ring', async () => {
    const [a, b] = await upstreams(['a', 'b']);
    let cDown = false;
    const c = await httpUpstream((req, res) => {
      if (cDown) req.socket.destroy();
      else res.end('c');
    });
    cleanup.push(() => c.close());
    const p = await proxy(`
upstreams:
  u:
    servers: [{ url: "${a!.url}" }, { url: "${b!.url}" }, { url: "${c.url}" }]
    balance: hash
    hash_key: "cookie:sid"
    health: { max_fails: 1, fail_timeout: 30s }
routes: [{ path: "/*", proxy: u }]
`);
    const before = new Map<string, string>();
    for (const k of keys.slice(0, 60))
      before.set(k, (await get(`${p.url}/k`, { headers: { cookie: `x=1; sid=${k}` } })).body);
    cDown = true;
    for (const k of keys.slice(0, 60)) {
      const r = await get(`${p.url}/k`, { headers: { cookie: `sid=${k}; y=2` } });
      expect(r.status).toBe(200); // the first one on c is retried on the next server
      if (before.get(k) === 'c') expect(r.body).not.toBe('c');
      else expect(r.body).toBe(before.get(k));
    }
  });

  it('ring: 160 points per weight, and a member removed moves about 1/n of the keys', () => {
    const members = ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80', '10.0.0.4:80'].map((id) => ({
      id,
      weight: 1,
    }));
    const full = new HashRing(members);
    const less = new HashRing(members.slice(0, 3));
    expect(full.size).toBe(640);
    let moved = 0;
    const n = 10_000;
    for (let i = 0; i < n; i++) {
      const h = hashKey(`k${i}`);
      const before = full.ownerAt(full.start(h));
      const after = less.ownerAt(less.start(h));
      if (before !== 3) expect(after).toBe(before);
      else moved++;
    }
    expect(moved / n).toBeGreaterThan(0.15);
    expect(moved / n).toBeLessThan(0.35);
  });
});

describe('random-two', () => {
  it('uses every server', async () => {
    const [a, b, c] = await upstreams(['a', 'b', 'c']);
    const p = await proxy(`
upstreams:
  u: { servers: [{ url: "${a!.url}" }, { url: "${b!.url}" }, { url: "${c!.url}" }], balance: random-two }
routes: [{ path: "/*", proxy: u }]
`);
    const counts = await tally(`${p.url}/r`, 60);
    expect(Object.keys(counts).sort()).toEqual(['a', 'b', 'c']);
  });
});

describe('backup servers', () => {
  it('serve only while every primary is down, and primaries take over again', async () => {
    let primariesDown = false;
    const primary = (name: string) =>
      httpUpstream((req, res) => {
        if (primariesDown) req.socket.destroy();
        else res.end(name);
      });
    const a = await primary('a');
    const b = await primary('b');
    const [c] = await upstreams(['backup']);
    cleanup.push(
      () => a.close(),
      () => b.close(),
    );
    const p = await proxy(`
upstreams:
  u:
    servers: [{ url: "${a.url}" }, { url: "${b.url}" }, { url: "${c!.url}", backup: true }]
    retries: { tries: 3 }
    health: { max_fails: 1, fail_timeout: 300ms }
routes: [{ path: "/*", proxy: u }]
`);
    expect(await tally(`${p.url}/x`, 20)).toEqual({ a: 10, b: 10 });
    primariesDown = true;
    // a and b fail (and are marked down), the backup answers
    expect((await get(`${p.url}/x`)).body).toBe('backup');
    const hitsBefore = a.hits + b.hits;
    expect(await tally(`${p.url}/x`, 5)).toEqual({ backup: 5 });
    expect(a.hits + b.hits).toBe(hitsBefore); // down: not even tried
    primariesDown = false;
    await new Promise((r) => setTimeout(r, 350)); // fail_timeout passes
    expect(await tally(`${p.url}/x`, 4)).toEqual({ a: 2, b: 2 });
  });
});

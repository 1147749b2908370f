/**
 * Hedged requests: when the first server has not answered within `hedge`, a second one is asked
 * and the first response head wins; the loser's upstream request is aborted (its socket closes).
 */
import type net from 'node:net';
import { describe, expect, it } from 'vitest';
import { closeAfterEach } from '../helpers/cleanup.js';
import { get } from '../helpers/http.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { pace, QUIET_PACE_MS, scaled } from '../helpers/timing.js';
import { httpUpstream, namedUpstream, rawUpstream, refusedPort } from '../helpers/upstreams.js';
import { until } from '../helpers/wait.js';

const later = closeAfterEach();

async function proxyTo(urls: string[], hedge: string | undefined): Promise<TestServer> {
  const servers = urls.map((u) => `{ url: "${u}" }`).join(', ');
  return later(
    await startServer(`
upstreams:
  u:
    servers: [${servers}]
${hedge === undefined ? '' : `    hedge: ${hedge}`}
    timeouts: { headers: 5s }
routes: [{ path: "/*", proxy: u }]
`),
  );
}

/** An upstream that answers `name` after `ms`, recording when its sockets close. */
async function slowUpstream(name: string, ms: number) {
  const closed: number[] = [];
  const u = await httpUpstream((req, res) => {
    const t = setTimeout(() => res.end(name), ms);
    req.socket.once('close', () => {
      clearTimeout(t);
      closed.push(performance.now());
    });
  });
  return Object.assign(later(u), { closed });
}

async function timed(url: string, opts: Parameters<typeof get>[1] = {}) {
  const t0 = performance.now();
  const r = await get(url, opts);
  return { ...r, ms: performance.now() - t0 };
}

describe('hedging', () => {
  it('cuts the latency of a request whose first server stalls, and aborts the loser', async () => {
    // The stall is long beside a request's cost even on a busy machine (a cold hedged request took
    // 455 ms beside a full suite): the margin the comparisons below need.
    const a = await slowUpstream('a', 2_000);
    const b = later(await namedUpstream('b'));
    const hedgedProxy = await proxyTo([a.url, b.url], '50ms');
    const plainProxy = await proxyTo([a.url, b.url], undefined);

    // Round-robin starts with a: the first request of each proxy goes to the slow server.
    const plain = await timed(`${plainProxy.url}/p`);
    expect(plain.body).toBe('a');
    expect(plain.ms).toBeGreaterThan(1_950);

    const t0 = performance.now();
    const h = await timed(`${hedgedProxy.url}/h`);
    expect(h.status).toBe(200);
    expect(h.body).toBe('b');
    expect(h.ms).toBeGreaterThan(45);
    // cut: well under the unhedged request's time, measured just above on the same machine
    expect(h.ms).toBeLessThan(plain.ms / 2);
    // the loser (a) was aborted: its socket closed right after b answered, not when a would have
    // answered (the plain proxy's keep-alive connection to a is still open)
    await until(() => a.closed.length >= 1, 'the loser socket to close');
    expect(a.closed[0]! - t0).toBeLessThan((h.ms + plain.ms) / 2);

    const log = await hedgedProxy.accessFor('/h');
    expect(log).toMatchObject({ status: 200, hedged: true, hedge_won: true, tries: 2 });
    expect(log.upstream).toBe(`127.0.0.1:${a.port}, 127.0.0.1:${b.port}`);
    console.log(
      `hedging: stalled first server, plain ${plain.ms.toFixed(1)} ms, hedged ${h.ms.toFixed(1)} ms`,
    );
  });

  it('does not fire when the first server answers within the delay', async () => {
    const a = later(await namedUpstream('a'));
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url], '200ms');
    for (let i = 0; i < 4; i++) expect((await get(`${p.url}/f`)).status).toBe(200);
    expect(a.hits + b.hits).toBe(4);
    expect(p.access.some((l) => l.hedged === true)).toBe(false);
  });

  it('never hedges a POST', async () => {
    const a = await slowUpstream('a', 150);
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([a.url, b.url], '20ms');
    const r = await get(`${p.url}/post`, { method: 'POST', body: 'x', headers: { 'content-length': '1' } });
    expect(r.body).toBe('a');
    expect(b.hits).toBe(0);
  });

  it('a hedge that fails does not end the race: the slow first answer still wins', async () => {
    const a = await slowUpstream('a', 150);
    const port = await refusedPort();
    const p = await proxyTo([a.url, `http://127.0.0.1:${port}`], '30ms');
    const r = await timed(`${p.url}/f`);
    expect(r).toMatchObject({ status: 200, body: 'a' });
    expect(r.ms).toBeGreaterThan(140);
    const log = await p.accessFor('/f');
    expect(log).toMatchObject({ hedged: true, upstream_errors: ['SY_ERR_UPSTREAM_CONNECT'] });
    expect(log.hedge_won).toBeUndefined();
  });

  it('a first server that fails before the delay is retried normally, no hedge', async () => {
    const port = await refusedPort();
    const b = later(await namedUpstream('b'));
    const p = await proxyTo([`http://127.0.0.1:${port}`, b.url], '100ms');
    const paceMs = await pace(() => get(`${b.url}/pace`));
    const r = await timed(`${p.url}/r`);
    expect(r).toMatchObject({ status: 200, body: 'b' });
    expect(r.ms).toBeLessThan(scaled(90, paceMs, QUIET_PACE_MS.fetch));
    expect((await p.accessFor('/r')).hedged).toBeUndefined();
  });

  it('a client that leaves during the race aborts both upstream requests', async () => {
    const sockets: net.Socket[] = [];
    const closed = new Set<net.Socket>();
    const stall = () =>
      rawUpstream((s) => {
        sockets.push(s);
        s.on('close', () => closed.add(s));
      });
    const a = later(await stall());
    const b = later(await stall());
    const p = await proxyTo([a.url, b.url], '20ms');
    const http = await import('node:http');
    const req = http.request(`${p.url}/gone`, { agent: false });
    req.on('error', () => {});
    req.end();
    await until(() => sockets.length === 2, 'both requests upstream');
    req.destroy();
    await until(() => closed.size === 2, 'both upstream sockets to close');
    expect(await p.accessFor('/gone')).toMatchObject({ status: 0, closed_by: 'client' });
  });
});

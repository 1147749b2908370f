/**
 * The status page in headless Chromium (Debian's package, driven by playwright-core): it renders
 * with no external request, and the numbers a person sees match the requests this test sent, live
 * (more requests → the page shows them on its next refresh). `SCREENSHOT=1` also writes
 * docs/status.png (the README's picture).
 */
import { createServer, type Server as HttpServer } from 'node:http';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/config/load.js';
import { openBrowser, type TestBrowser } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';
import { refusedPort } from '../helpers/upstreams.js';

let s: TestServer;
let origin: HttpServer;
let browser: TestBrowser;

const send = async (path: string, n: number) => {
  for (let i = 0; i < n; i++) await (await request(`${s.url}${path}`)).body.text();
};

beforeAll(async () => {
  origin = createServer((_req, res) => setTimeout(() => res.end('up'), 2));
  await new Promise<void>((r) => origin.listen(0, '127.0.0.1', r));
  const live = (origin.address() as { port: number }).port;
  s = await startServer(`
upstreams:
  app: { servers: [{ url: "http://127.0.0.1:${live}" }, { url: "http://127.0.0.1:${await refusedPort()}" }], health: { max_fails: 1, fail_timeout: 60s } }
routes:
  - { path: /a, respond: { body: "a" } }
  - { path: "/api/*", proxy: app }
  - { path: /status, status: {} }
`);
  await send('/a', 12);
  await send('/api/x', 6);
  await send('/missing', 3);
  browser = await openBrowser({ width: 1100, height: 760 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await s?.close();
  await new Promise((r) => origin?.close(r));
});

describe('status page', () => {
  it('renders live numbers that match the requests sent, with no external request', async () => {
    const page = await browser.context.newPage();
    const outside: string[] = [];
    page.on('request', (r) => {
      if (!r.url().startsWith(s.url)) outside.push(r.url());
    });
    await page.goto(`${s.url}/status`);
    await page.waitForSelector('body[data-updated]');
    const cell = (route: string, k: string) =>
      page.locator(`#routes tr[data-route="${route}"] td[data-k="${k}"]`).textContent();
    expect(await cell('/a', 'requests')).toBe('12');
    expect(await cell('/a', '2xx')).toBe('12');
    expect(await cell('/a', '1xx')).toBe('0'); // WebSocket upgrades (101) have their column too
    expect(await cell('(unmatched)', '4xx')).toBe('3');
    // The proxy: 6 answered by the live server; the dead one refused once (then marked down).
    const servers = page.locator('#upstreams tbody tr');
    expect(await servers.count()).toBe(2);
    const states = await page.locator('#upstreams td[data-k="state"]').allTextContents();
    expect(states.sort()).toEqual(['DOWN', 'UP']);
    const reqs = (await page.locator('#upstreams td[data-k="requests"]').allTextContents()).map(Number);
    const errs = (await page.locator('#upstreams td[data-k="errors"]').allTextContents()).map(Number);
    expect(reqs.reduce((a, b) => a + b)).toBe(7); // 6 + the one retried away from the dead server
    expect(errs.reduce((a, b) => a + b)).toBe(1);
    expect(await page.locator('[data-k="state"]').first().textContent()).toBe('ready');

    // Live: more requests show up on the next refresh, without reloading the page.
    await send('/a', 8);
    // A function, not a string: the page's CSP has no 'unsafe-eval' for string predicates.
    await page.waitForFunction(
      () =>
        (
          globalThis as unknown as { document: { querySelector(s: string): { textContent: string } | null } }
        ).document.querySelector('#routes tr[data-route="/a"] td[data-k="requests"]')?.textContent === '20',
      undefined,
      { timeout: 10_000 },
    );
    expect(outside).toEqual([]);
    if (process.env.SCREENSHOT === '1') {
      // a little steady traffic so that req/s is not zero in the picture
      const load = send('/a', 300).then(() => send('/api/y', 100));
      await page.waitForTimeout(2200);
      await page.screenshot({ path: join(packageRoot, 'docs', 'status.png'), fullPage: true });
      await load;
    }
    await page.close();
  });
});

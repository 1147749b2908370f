/**
 * A browser renders a compressed page: headless Chromium (Debian's, driven by playwright-core)
 * loads HTML, CSS and a script from routes with `compress:`, gets them br-encoded, and renders
 * them (the script runs, the style applies).
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { openBrowser, type TestBrowser } from '../helpers/browser.js';
import { startServer, type TestServer } from '../helpers/server.js';

let srv: TestServer;
let browser: TestBrowser;

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'sy-page-'));
  mkdirSync(join(root, 'site'));
  const filler = '<!-- ' + 'padding so the page is worth compressing '.repeat(100) + ' -->';
  writeFileSync(
    join(root, 'site', 'index.html'),
    `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="style.css"></head>
<body><h1 id="title">waiting</h1>${filler}<script src="app.js"></script></body></html>\n`,
  );
  writeFileSync(join(root, 'site', 'style.css'), `h1 { color: rgb(1, 2, 3); }\n/* ${'x'.repeat(3000)} */\n`);
  writeFileSync(
    join(root, 'site', 'app.js'),
    `document.getElementById('title').textContent = 'rendered ' + ${JSON.stringify('é'.repeat(3))};\n// ${'y'.repeat(3000)}\n`,
  );
  srv = await startServer(
    `routes:\n  - { path: "/site/*", static: { root: ${join(root, 'site')} }, compress: {} }\n`,
  );
  browser = await openBrowser();
}, 60_000);
afterAll(async () => {
  await browser?.close();
  await srv?.close();
});

it('Chromium renders a page whose HTML, CSS and script came compressed', async () => {
  const page = await browser.context.newPage();
  const encodings = new Map<string, string | undefined>();
  page.on('response', (r) => {
    encodings.set(new URL(r.url()).pathname, r.headers()['content-encoding']);
  });
  await page.goto(`http://127.0.0.1:${srv.port}/site/`);
  await page.waitForFunction("document.getElementById('title')?.textContent?.startsWith('rendered')");
  expect(await page.textContent('#title')).toBe('rendered ééé');
  const color = await page.evaluate("getComputedStyle(document.getElementById('title')).color");
  expect(color).toBe('rgb(1, 2, 3)');
  expect(encodings.get('/site/')).toBe('br');
  expect(encodings.get('/site/style.css')).toBe('br');
  expect(encodings.get('/site/app.js')).toBe('br');
  await page.close();
}, 60_000);

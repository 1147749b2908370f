/**
 * Headless Chromium (Debian's `chromium`, driven by playwright-core) with a fresh profile: for the
 * tests where a page or a WebSocket is involved (test/helpers/browser.ts) and the README's
 * screenshots (scripts/game-screenshot.mjs). `close()` ends the browser and removes the profile.
 * CHROMIUM_PATH overrides the executable.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium } from 'playwright-core';

const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  /** pages: `context.newPage()` */
  context: BrowserContext;
  close(): Promise<void>;
}

export async function openBrowser(viewport?: { width: number; height: number }): Promise<TestBrowser> {
  const profile = mkdtempSync(join(tmpdir(), 'switchyard-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    headless: true,
    args: FLAGS,
    ...(viewport === undefined ? {} : { viewport }),
  });
  return {
    context,
    async close() {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

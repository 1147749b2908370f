/** Headless Chromium for page and WebSocket tests (one launcher, shared with the scripts). */
export { openBrowser, type TestBrowser } from '../../loadtest/lib/browser.js';

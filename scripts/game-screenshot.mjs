// `npm run docs:screenshot`: the README's picture of the game room (docs/game-room.png). Starts the
// built CLI on conf/switchyard.yaml (ports moved to free ones, access log off), opens /game in two
// headless Chromium pages (alice and bob), moves both players a few squares, and screenshots
// alice's page once it draws both. CHROMIUM_PATH overrides /usr/bin/chromium.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const { openBrowser } = await import('../dist/loadtest/lib/browser.js');

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'docs', 'game-room.png');

const freePort = () =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

const [main, second, tcp] = [await freePort(), await freePort(), await freePort()];
const tmp = mkdtempSync(join(tmpdir(), 'switchyard-shot-'));
const conf = join(root, 'conf', `.screenshot-${process.pid}.yaml`); // beside the original: same relative paths
writeFileSync(
  conf,
  readFileSync(join(root, 'conf', 'switchyard.yaml'), 'utf8')
    .replaceAll('port: 8080', `port: ${main}`)
    .replaceAll('port: 8081', `port: ${second}`)
    .replaceAll('127.0.0.1:8081', `127.0.0.1:${second}`)
    .replaceAll('port: 9000', `port: ${tcp}`)
    .replace('access: stdout', 'access: off'),
);
const cli = spawn(process.execPath, [join(root, 'dist', 'src', 'cli.js'), 'start', '-c', conf], {
  stdio: ['ignore', 'ignore', 'pipe'],
});
let browser;
try {
  await new Promise((resolve, reject) => {
    cli.once('exit', (code) => reject(new Error(`switchyard exited (${code})`)));
    let log = ''; // the error log (stderr) says "listening on HOST:PORT" per listener
    cli.stderr.on('data', (d) => {
      log += d;
      if (log.includes(`listening on 127.0.0.1:${main}`)) resolve();
    });
  });
  browser = await openBrowser({ width: 700, height: 640 });

  const [alice, bob] = [await browser.context.newPage(), await browser.context.newPage()];
  await alice.goto(`http://127.0.0.1:${main}/game?name=alice`);
  await bob.goto(`http://127.0.0.1:${main}/game?name=bob`);
  for (const p of [alice, bob]) await p.waitForFunction(() => window.game.open && window.game.me !== '');
  for (const [p, keys] of [
    [alice, ['ArrowRight', 'ArrowRight', 'ArrowDown']],
    [bob, ['ArrowLeft', 'ArrowUp', 'ArrowUp']],
  ]) {
    for (const k of keys) {
      await p.keyboard.press(k);
      await p.waitForTimeout(60); // one tick (50 ms) applies the last move of each player
    }
  }
  await alice.waitForFunction(() => window.game.players().length === 2);
  await alice.waitForTimeout(200);
  await alice.screenshot({ path: out });
  console.log(`wrote ${out}`);
} finally {
  await browser?.close();
  cli.kill();
  rmSync(conf, { force: true });
  rmSync(tmp, { recursive: true, force: true });
}

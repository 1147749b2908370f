// `npm start` / `npm run check`: build first when dist/ is missing or older than the sources.
import { execSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'dist', 'src', 'cli.js');

function newest(dir) {
  let t = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    t = Math.max(t, e.isDirectory() ? newest(p) : statSync(p).mtimeMs);
  }
  return t;
}

const stale =
  !existsSync(out) || ['src', 'routes'].some((d) => newest(join(root, d)) > statSync(out).mtimeMs);
if (stale) {
  process.stderr.write('switchyard: building (npm run build)…\n');
  execSync('npm run build --silent', { cwd: root, stdio: 'inherit' });
}

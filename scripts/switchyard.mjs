#!/usr/bin/env node
// The `switchyard` command (package.json "bin"): runs the built CLI, or says how to build it, so
// that `npx switchyard …` on a fresh clone is not "switchyard: not found".
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  process.stderr.write(
    'switchyard: not built yet (dist/src/cli.js is missing): run `npm run build` once, ' +
      'or `npm start`, which builds first\n',
  );
  process.exit(1);
}
await import(cli.href);

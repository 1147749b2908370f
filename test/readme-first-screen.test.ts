/**
 * The README's first screen (above "## Contents") is what a newcomer reads and types: its claims
 * are checked here. HTTP/1.0's silence itself is measured by the conformance suite's gap test.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';

const readme = readFileSync(join(packageRoot, 'README.md'), 'utf8');
const firstScreen = readme.slice(0, readme.indexOf('## Contents'));

describe('README first screen', () => {
  it('says, next to the curl lines, that HTTP/1.0 requests get no answer and no log line', () => {
    const afterCurl = firstScreen.slice(firstScreen.lastIndexOf('curl -i localhost:8080/old'));
    expect(afterCurl).toMatch(/HTTP\/1\.0 request \(`curl --http1\.0`/);
    expect(afterCurl).toMatch(/no answer/);
    expect(afterCurl).toMatch(/access log has no line/);
  });

  it('shows the nc example that the TCP listener answers (half-close: see test/pool/tcp.test.ts)', () => {
    expect(firstScreen).toContain("printf '30\\nabc\\n' | nc -q 1 127.0.0.1 9000");
  });
});

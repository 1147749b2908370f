/** A site on disk for static tests, and a GET with an exact request target (no client-side normalising). */

import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';

export interface Got {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One request with `path` sent exactly as given. */
export function get(
  port: number,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method, headers, agent: false }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(parts) }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * dir/
 *   secret.txt                    outside the root
 *   public/                       the root
 *     index.html  app.js (+ .br, .gz)  style.css  logo.png  data.bin  notes.txt  .env  .hidden/x.txt
 *     docs/index.html   empty/   inside-link -> notes.txt   outside-link -> ../secret.txt
 */
export function makeSite(): { dir: string; root: string; js: string } {
  const dir = mkdtempSync(join(tmpdir(), 'sy-static-'));
  const root = join(dir, 'public');
  mkdirSync(join(root, 'docs'), { recursive: true });
  mkdirSync(join(root, 'empty'));
  mkdirSync(join(root, '.hidden'));
  writeFileSync(join(dir, 'secret.txt'), 'TOP SECRET\n');
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>home</title><p>home</p>\n');
  writeFileSync(join(root, 'docs', 'index.html'), '<p>docs</p>\n');
  const js = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
  writeFileSync(join(root, 'app.js'), js);
  writeFileSync(join(root, 'app.js.br'), brotliCompressSync(js));
  writeFileSync(join(root, 'app.js.gz'), gzipSync(js));
  writeFileSync(join(root, 'style.css'), 'body { color: red }\n');
  writeFileSync(join(root, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
  writeFileSync(join(root, 'data.bin'), Buffer.alloc(1000, 7));
  writeFileSync(join(root, 'notes.txt'), '0123456789abcdefghij');
  writeFileSync(join(root, 'a b.txt'), 'spaced');
  writeFileSync(join(root, '.env'), 'PASSWORD=x\n');
  writeFileSync(join(root, '.hidden', 'x.txt'), 'hidden\n');
  symlinkSync(join(root, 'notes.txt'), join(root, 'inside-link'));
  symlinkSync(join(dir, 'secret.txt'), join(root, 'outside-link.txt'));
  return { dir, root, js };
}

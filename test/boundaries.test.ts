/**
 * The seams the layout promises, checked on the source: the uWS binding is imported only by its
 * engine, handler modules reach Switchyard only through src/api.ts, the runtime stands alone, no
 * source file grows past 400 lines; and comments in src/, routes/, test/ and loadtest/ cite only
 * what is in the repository (docs/ for platform facts, existing files, scripts, test names).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../src/config/load.js';

function files(dir: string, ext = /\.(ts|js|mjs)$/): string[] {
  const out: string[] = [];
  for (const name of readdirSync(join(packageRoot, dir))) {
    const rel = join(dir, name);
    if (statSync(join(packageRoot, rel)).isDirectory()) out.push(...files(rel, ext));
    else if (ext.test(name)) out.push(rel);
  }
  return out;
}

/** Module specifiers of static and dynamic imports and re-exports. */
function imports(file: string): string[] {
  const text = readFileSync(join(packageRoot, file), 'utf8');
  const out: string[] = [];
  for (const m of text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+['"]([^'"]+)['"]/g))
    out.push(m[1]!);
  for (const m of text.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push(m[1]!);
  for (const m of text.matchAll(/(?:^|\n)\s*import\s+['"]([^'"]+)['"]/g)) out.push(m[1]!);
  return out;
}

describe('layout boundaries', () => {
  it('only src/server/uws imports uWebSockets.js', () => {
    const offenders = files('src').filter(
      (f) => !f.startsWith('src/server/uws/') && imports(f).includes('uWebSockets.js'),
    );
    expect(offenders).toEqual([]);
  });

  it('routes/ imports only src/api.ts (and Node built-ins, and each other)', () => {
    const offenders: string[] = [];
    for (const f of files('routes')) {
      for (const spec of imports(f)) {
        const ok =
          spec.startsWith('node:') ||
          /^(\.\.\/)+src\/api\.js$/.test(spec) ||
          (spec.startsWith('./') && !spec.includes('/src/'));
        if (!ok) offenders.push(`${f}: ${spec}`);
      }
    }
    expect(offenders).toEqual([]);
  });

  it('src/runtime imports nothing else from src/', () => {
    const offenders: string[] = [];
    for (const f of files('src/runtime')) {
      for (const spec of imports(f)) if (spec.startsWith('../')) offenders.push(`${f}: ${spec}`);
    }
    expect(offenders).toEqual([]);
  });

  it('no file in src/ is over 400 lines', () => {
    const long = files('src')
      .map((f) => ({ f, n: readFileSync(join(packageRoot, f), 'utf8').split('\n').length }))
      .filter((x) => x.n > 400);
    expect(long).toEqual([]);
  });
});

/**
 * Every comment in a source file, found through the TypeScript parser, as one line of prose:
 * markers gone, whitespace collapsed, a run of `//` lines joined into one comment.
 */
function comments(file: string): string[] {
  const text = readFileSync(join(packageRoot, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const found = new Map<number, ts.CommentRange>();
  const add = (ranges: ts.CommentRange[] | undefined) => {
    for (const r of ranges ?? []) found.set(r.pos, r);
  };
  const visit = (node: ts.Node) => {
    add(ts.getLeadingCommentRanges(text, node.getFullStart()));
    add(ts.getTrailingCommentRanges(text, node.getEnd()));
    node.forEachChild(visit);
  };
  visit(sf);
  add(ts.getLeadingCommentRanges(text, sf.endOfFileToken.getFullStart()));
  const runs: string[] = [];
  let last: ts.CommentRange | undefined;
  for (const r of [...found.values()].sort((a, b) => a.pos - b.pos)) {
    const line = r.kind === ts.SyntaxKind.SingleLineCommentTrivia;
    const joined =
      line &&
      last?.kind === ts.SyntaxKind.SingleLineCommentTrivia &&
      /^[ \t]*\r?\n[ \t]*$/.test(text.slice(last.end, r.pos));
    const body = text.slice(r.pos, r.end);
    if (joined) runs[runs.length - 1] += `\n${body}`;
    else runs.push(body);
    last = r;
  }
  return runs.map((c) =>
    c
      .replace(/^\/\*+|\*+\/$/g, '')
      .replace(/^\s*(\/\/+|\*)/gm, '')
      .replace(/\s+/g, ' '),
  );
}

/** The string literals of a file (test names, `it.each` cases), whitespace collapsed. */
function literals(file: string): string[] {
  const text = readFileSync(join(packageRoot, file), 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false);
  const out: string[] = [];
  const visit = (node: ts.Node) => {
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) out.push(node.text);
    else if (ts.isTemplateExpression(node))
      out.push(node.head.text + node.templateSpans.map((s) => `%s${s.literal.text}`).join(''));
    node.forEachChild(visit);
  };
  visit(sf);
  return out.map((s) => s.replace(/\s+/g, ' '));
}

const PLACEHOLDER = /^(%[sdifjoO#]|\$\w+)/;

/**
 * Does the cited test name match a prefix of `title`? In the title, vitest placeholders (`%s`,
 * `$name`) stand for any text; in the name, `…` or `...` skips any text.
 */
function names(cited: string, title: string, i = 0, j = 0): boolean {
  if (i === cited.length) return true;
  const skip = cited.startsWith('…', i) ? 1 : cited.startsWith('...', i) ? 3 : 0;
  if (skip > 0) {
    for (let k = j; k <= title.length; k++) if (names(cited, title, i + skip, k)) return true;
    return false;
  }
  if (j === title.length) return false;
  const ph = PLACEHOLDER.exec(title.slice(j));
  if (ph) {
    for (let k = i + 1; k <= cited.length; k++) if (names(cited, title, k, j + ph[0].length)) return true;
    return false;
  }
  return cited[i] === title[j] && names(cited, title, i + 1, j + 1);
}

describe('comments cite what is in the repository', () => {
  const sources = [...files('src'), ...files('routes'), ...files('test'), ...files('loadtest')];
  const all = sources.flatMap((f) => comments(f).map((text) => ({ f, text })));
  const scripts = Object.keys(
    (JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { scripts: object }).scripts,
  );
  /** `src/DIR/FILE.ts`, `docs/NAME.md`, a folder …: a path from the repository root */
  const ROOTED = /(?<![\w./-])((?:src|routes|test|docs|loadtest|conf|scripts|\.ci)\/[\w./-]*[\w/])/g;
  /** a placeholder or example path: `routes/jobs/NAME.ts`, `src/tracks/<name>/`, `routes/x.js` */
  const PATTERN = /\/([A-Z]+|[a-z])(\.|\/|$)|[<*]/;

  it('found comments to check', () => {
    expect(all.length).toBeGreaterThan(500);
  });

  it('no comment cites a document outside the repository', () => {
    const offenders = all
      .filter(({ text }) => /platform\.md|\/work\/|shared\/(design|style)\.md/.test(text))
      .map(({ f, text }) => `${f}: ${text.slice(0, 100)}`);
    expect(offenders).toEqual([]);
  });

  it('every repository path a comment cites exists (src/…, docs/…, test/…)', () => {
    const missing: string[] = [];
    for (const { f, text } of all) {
      for (const m of text.matchAll(ROOTED)) {
        const path = m[1]!.replace(/\.$/, '');
        // only what a comment cites: sources, documents, config (a fixture's `docs/index.html` is not)
        if (PATTERN.test(path) || /\.(?!(ts|js|mjs|md|json|ya?ml)$)\w+$/.test(path)) continue;
        const ok =
          existsSync(join(packageRoot, path)) ||
          (path.endsWith('.js') && existsSync(join(packageRoot, path.replace(/\.js$/, '.ts'))));
        if (!ok) missing.push(`${f}: ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  /** The file's folder and every folder above it, up to the root. */
  const ancestors = (f: string): string[] => {
    const out: string[] = [];
    for (let d = dirname(f); d !== '.'; d = dirname(d)) out.push(d);
    return [...out, '.'];
  };

  it('every bare *.md and *.ts a comment names exists (in the file’s folder or one above, or among the sources)', () => {
    const everywhere = new Set(sources.map((f) => basename(f)));
    const missing: string[] = [];
    for (const { f, text } of all) {
      for (const m of text.matchAll(/(?<![\w./-])([\w-]+\.(?:md|ts))\b/g)) {
        const name = m[1]!;
        const ok =
          ancestors(f).some((dir) => existsSync(join(packageRoot, dir, name))) ||
          (name.endsWith('.ts') && everywhere.has(name));
        if (!ok) missing.push(`${f}: ${name}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it('every `npm run X` a comment names is a script in package.json', () => {
    const missing = all.flatMap(({ f, text }) =>
      [...text.matchAll(/npm run ([\w:-]+)/g)]
        .filter((m) => !scripts.includes(m[1]!))
        .map((m) => `${f}: ${m[0]}`),
    );
    expect(missing).toEqual([]);
  });

  it("every regression test a comment names (test/x.test.ts 'name') is in that file", () => {
    const missing: string[] = [];
    for (const { f, text } of all) {
      for (const m of text.matchAll(/(test\/[\w./-]+\.test\.ts) '([^']+)'/g)) {
        const [, file, cited] = m as unknown as [string, string, string];
        const titles = existsSync(join(packageRoot, file)) ? literals(file) : [];
        const name = cited.replace(/\s+/g, ' ');
        if (!titles.some((t) => t.includes(name) || names(name, t))) missing.push(`${f}: ${file} '${cited}'`);
      }
    }
    expect(missing).toEqual([]);
  });
});

/**
 * Dry check of the k6 scripts, for machines without k6 (ours): each script is parsed as an ES
 * module, its imports are limited to k6's built-in modules and relative files, it is linked against
 * stubs of those modules and its init code is evaluated in a bare context (no Node globals, as in
 * k6), then its `options` are validated (thresholds present, every scenario's `exec` is an exported
 * function) and each exported VU function is called once against the stubs, so that a name that
 * does not exist fails here and not on a user's machine. Nothing is sent anywhere.
 *
 *   node --experimental-vm-modules --no-warnings loadtest/k6/check.mjs [file.js …]
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';

if (typeof vm.SourceTextModule !== 'function') {
  process.stderr.write('k6 check: run with node --experimental-vm-modules\n');
  process.exit(2);
}

const dir = path.dirname(fileURLToPath(import.meta.url));
/** Scripts users run (lib.js is imported by them, not run on its own). */
const ENTRY = ['smoke.js', 'proxy.js', 'handlers.js', 'mixed.js'];
const files =
  process.argv.length > 2
    ? process.argv.slice(2).map((f) => path.resolve(f))
    : ENTRY.map((f) => path.join(dir, f));

/** Names k6's built-in modules export, as far as our scripts may use them. */
const K6 = {
  k6: ['default', 'check', 'fail', 'group', 'randomSeed', 'sleep'],
  'k6/http': [
    'default',
    'get',
    'post',
    'put',
    'patch',
    'del',
    'head',
    'options',
    'request',
    'asyncRequest',
    'batch',
    'url',
    'file',
    'cookieJar',
    'expectedStatuses',
    'setResponseCallback',
  ],
  'k6/metrics': ['default', 'Counter', 'Gauge', 'Rate', 'Trend'],
  'k6/execution': ['default'],
  'k6/data': ['default', 'SharedArray'],
  'k6/encoding': ['default', 'b64encode', 'b64decode'],
};

/** A response as the stubs hand it back: enough for checks to run without throwing. */
const fakeResponse = () => ({ status: 200, body: '', headers: {}, timings: {}, json: () => ({}) });

/** One stub works as a function, a constructor (`new Rate()`), and an object with methods. */
function stubFn() {
  return new Proxy(function stub() {}, {
    apply: () => fakeResponse(),
    construct: () => ({ add() {} }),
    get: (_t, prop) => (prop === 'then' ? undefined : stubFn()),
  });
}

let failures = 0;
for (const file of files) {
  const name = path.relative(process.cwd(), file);
  try {
    const info = await checkScript(file);
    process.stdout.write(`k6 check: ${name} ok (${info})\n`);
  } catch (err) {
    failures++;
    // The error comes from the script's own context, so `instanceof SyntaxError` would be false.
    const where = err?.name === 'SyntaxError' ? `\n${syntaxLocation(file)}` : '';
    process.stdout.write(
      `k6 check: ${name} FAILED: ${err?.name ?? 'Error'}: ${err?.message ?? err}${where}\n`,
    );
  }
}
process.stdout.write(`k6 check: ${files.length - failures} of ${files.length} scripts ok\n`);
process.exit(failures === 0 ? 0 : 1);

async function checkScript(file) {
  const context = vm.createContext({ __ENV: {}, __VU: 1, __ITER: 0, console });
  const cache = new Map();
  const load = (f) => {
    let mod = cache.get(f);
    if (!mod) {
      // Throws a SyntaxError naming the line for a script that does not parse.
      mod = new vm.SourceTextModule(readFileSync(f, 'utf8'), { identifier: f, context });
      cache.set(f, mod);
    }
    return mod;
  };
  const root = load(file);
  await root.link((specifier, referrer) => {
    if (specifier in K6) {
      const names = K6[specifier];
      return new vm.SyntheticModule(
        names,
        function () {
          for (const n of names) this.setExport(n, stubFn());
        },
        { context, identifier: specifier },
      );
    }
    if (specifier.startsWith('./') || specifier.startsWith('../')) {
      return load(path.resolve(path.dirname(referrer.identifier), specifier));
    }
    throw new Error(`imports "${specifier}", which is neither a k6 module nor a relative file`);
  });
  await root.evaluate();
  const ns = root.namespace;
  const options = ns.options;
  if (typeof options !== 'object' || options === null) throw new Error('exports no `options` object');
  if (!options.thresholds || Object.keys(options.thresholds).length === 0)
    throw new Error('options has no thresholds');
  const execs = options.scenarios
    ? Object.entries(options.scenarios).map(([sc, s]) => [sc, s.exec ?? 'default'])
    : [['(default)', 'default']];
  for (const [sc, exec] of execs) {
    if (typeof ns[exec] !== 'function')
      throw new Error(`scenario ${sc}: exec "${exec}" is not an exported function`);
  }
  for (const exec of new Set(execs.map(([, e]) => e))) ns[exec]();
  return `${execs.length} scenario(s), ${Object.keys(options.thresholds).length} threshold(s)`;
}

/**
 * vm's SyntaxError carries no position on Node 20; `node --check` on an .mjs copy prints
 * "file:line", the line and a caret (it parses only, so the k6 imports do not matter).
 */
function syntaxLocation(file) {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'k6-check-'));
  try {
    const copy = path.join(tmp, `${path.basename(file, '.js')}.mjs`);
    copyFileSync(file, copy);
    const res = spawnSync(process.execPath, ['--check', copy], { encoding: 'utf8' });
    return res.stderr.split('\n').slice(0, 3).join('\n').replace(copy, file);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

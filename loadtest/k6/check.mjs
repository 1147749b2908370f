/**
 * Dry check of the k6 scripts, for machines without k6 (ours): each script is parsed as an ES
 * module, its imports are limited to k6's built-in modules and relative files, it is linked against
 * stubs of those modules and its init code is evaluated in a bare context (no Node globals, as in
 * k6), then its `options` are validated (thresholds present, every scenario's `exec` is an exported
 * function) and each exported VU function is called once against the stubs, so that a name that
 * does not exist fails here and not on a user's machine. Nothing is sent anywhere.
 *
 *   node --experimental-vm-modules --no-warnings loadtest/k6/check.mjs [file.js …]
 *
 * Live mode: `--live BASE_URL [-e NAME=value …] file.js …` sends each VU function's requests to a
 * real server (one at a time, synchronously, as k6's http does) and evaluates its `check()`s; the
 * script fails when a check fails or a response has a status >= 400 (k6's http_req_failed). The
 * test suite runs `proxy.js` this way against the default config.
 *
 * `k6/ws` in live mode: `connect` blocks until the socket closes, as in k6. A worker thread holds
 * the real WebSocket (the `ws` package) and posts its events; this thread waits for them with
 * Atomics.wait, takes them with receiveMessageOnPort and runs the script's handlers and its
 * `socket.setTimeout` / `setInterval` timers in between, one at a time, as k6's event loop does.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';

if (typeof vm.SourceTextModule !== 'function') {
  process.stderr.write('k6 check: run with node --experimental-vm-modules\n');
  process.exit(2);
}

const dir = path.dirname(fileURLToPath(import.meta.url));
/** Scripts users run (lib.js is imported by them, not run on its own). */
const ENTRY = ['smoke.js', 'proxy.js', 'handlers.js', 'mixed.js', 'game.js'];

/** `--live BASE_URL` and `-e NAME=value` options; the rest are script files. */
const args = process.argv.slice(2);
/** @type {Record<string, string>} */
const liveEnv = {};
let live = false;
const positional = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--live') {
    live = true;
    liveEnv.BASE_URL = args[++i] ?? '';
  } else if (args[i] === '-e') {
    const [k, ...v] = (args[++i] ?? '').split('=');
    liveEnv[k] = v.join('=');
  } else positional.push(args[i]);
}
const files =
  positional.length > 0 ? positional.map((f) => path.resolve(f)) : ENTRY.map((f) => path.join(dir, f));

/** Live mode: what went wrong in the requests and checks of one script. */
let liveProblems = [];

/** One HTTP request, synchronously (k6's http API is synchronous), through a child process. */
const FETCH = `let input = '';
for await (const c of process.stdin) input += c;
const r = JSON.parse(input);
try {
  const res = await fetch(r.url, { method: r.method, body: r.body ?? undefined, headers: r.headers ?? {}, redirect: 'manual' });
  const body = await res.text();
  process.stdout.write(JSON.stringify({ status: res.status, headers: Object.fromEntries(res.headers), body }));
} catch (err) {
  process.stdout.write(JSON.stringify({ status: 0, headers: {}, body: '', error: String(err?.cause?.code ?? err) }));
}`;

/**
 * k6's `http.expectedStatuses(...)`: statuses (numbers or `{ min, max }`) that do not count as failed.
 * The default, as k6's: 200–399. `setResponseCallback` replaces the default; a request's
 * `responseCallback` (null: never failed) overrides both.
 */
const expectedStatuses = (...specs) => ({ expected: specs });
let defaultCallback = expectedStatuses({ min: 200, max: 399 });
function expected(callback, status) {
  if (callback === null) return true;
  return callback.expected.some((s) =>
    typeof s === 'number' ? s === status : status >= s.min && status <= s.max,
  );
}

function liveRequest(method, url, body, params) {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', FETCH], {
    input: JSON.stringify({
      method,
      url: String(url),
      body: typeof body === 'string' ? body : undefined,
      headers: params?.headers,
    }),
    encoding: 'utf8',
    timeout: 30_000,
  });
  const res = JSON.parse(r.stdout || '{"status":0,"headers":{},"body":"","error":"no answer"}');
  const callback = params?.responseCallback === undefined ? defaultCallback : params.responseCallback;
  if (res.status === 0 || !expected(callback, res.status))
    liveProblems.push(`${method} ${url}: ${res.error ? `failed (${res.error})` : `status ${res.status}`}`);
  // k6 hands headers over with canonical names (Content-Type), fetch lower-cases them
  const headers = Object.fromEntries(
    Object.entries(res.headers).map(([k, v]) => [
      k.replace(/(^|-)([a-z])/g, (_m, d, c) => d + c.toUpperCase()),
      v,
    ]),
  );
  return { ...res, headers, timings: {}, json: () => JSON.parse(res.body) };
}

/** The worker that holds one live WebSocket: events out through `port`, `flag` bumped for each. */
const WS_WORKER = `
const { workerData } = require('node:worker_threads');
const { port, flag, url, headers, wsModule } = workerData;
const WebSocket = require(wsModule);
const signal = new Int32Array(flag);
const post = (m) => { port.postMessage(m); Atomics.add(signal, 0, 1); Atomics.notify(signal, 0); };
const ws = new WebSocket(url, { headers });
ws.on('upgrade', (res) => post({ event: 'upgrade', status: res.statusCode, headers: res.headers }));
ws.on('unexpected-response', (_req, res) => { post({ event: 'refused', status: res.statusCode }); ws.terminate(); });
ws.on('open', () => post({ event: 'open' }));
ws.on('message', (data, binary) => post({ event: 'message', data: binary ? data : data.toString(), binary }));
ws.on('ping', () => post({ event: 'ping' }));
ws.on('pong', () => post({ event: 'pong' }));
ws.on('error', (err) => post({ event: 'error', error: String(err.message) }));
ws.on('close', (code) => post({ event: 'close', code }));
port.on('message', (m) => {
  if (m.send !== undefined) ws.send(m.send);
  else if (m.ping) ws.ping();
  else if (m.close !== undefined) ws.close(m.close);
});
`;
const wsModule = createRequire(import.meta.url).resolve('ws');

/** k6/ws `connect(url, params, callback)`: runs the session to its end, returns the response. */
function liveWsConnect(url, params, callback) {
  if (typeof params === 'function') [callback, params] = [params, null];
  const flag = new SharedArrayBuffer(4);
  const signal = new Int32Array(flag);
  const { port1, port2 } = new MessageChannel();
  const worker = new Worker(WS_WORKER, {
    eval: true,
    workerData: { port: port2, flag, url: String(url), headers: params?.headers ?? {}, wsModule },
    transferList: [port2],
  });
  /** @type {Record<string, Function[]>} */
  const handlers = {};
  const timers = [];
  const emit = (event, ...a) => {
    for (const fn of handlers[event] ?? []) fn(...a);
  };
  const res = { url: String(url), status: 0, headers: {}, body: '', error: '' };
  let done = false;
  const socket = {
    on: (event, fn) => (handlers[event] ??= []).push(fn),
    send: (data) => port1.postMessage({ send: data }),
    sendBinary: (data) => port1.postMessage({ send: Buffer.from(data) }),
    ping: () => port1.postMessage({ ping: true }),
    close: (code) => port1.postMessage({ close: code ?? 1000 }),
    setTimeout: (fn, ms) => timers.push({ at: performance.now() + ms, fn, every: 0 }),
    setInterval: (fn, ms) => timers.push({ at: performance.now() + ms, fn, every: Math.max(1, ms) }),
  };
  callback(socket);
  const giveUp = performance.now() + 60_000;
  while (!done) {
    const seen = Atomics.load(signal, 0);
    for (let m = receiveMessageOnPort(port1); m !== undefined && !done; m = receiveMessageOnPort(port1)) {
      const e = m.message;
      if (e.event === 'upgrade') Object.assign(res, { status: e.status, headers: e.headers });
      else if (e.event === 'refused') {
        res.status = e.status;
        res.error = `websocket: bad handshake (status ${e.status})`;
        liveProblems.push(`WS ${url}: status ${e.status}`);
      } else if (e.event === 'open') emit('open');
      else if (e.event === 'message') emit(e.binary ? 'binaryMessage' : 'message', e.data);
      else if (e.event === 'ping' || e.event === 'pong') emit(e.event);
      else if (e.event === 'error') {
        res.error ||= e.error;
        emit('error', { error: () => e.error });
      } else if (e.event === 'close') {
        emit('close', e.code);
        done = true;
      }
    }
    if (done) break;
    const now = performance.now();
    if (now > giveUp) {
      liveProblems.push(`WS ${url}: still open after 60 s`);
      break;
    }
    for (const t of timers.filter((t) => t.at <= now)) {
      if (t.every > 0) t.at += t.every;
      else timers.splice(timers.indexOf(t), 1);
      t.fn();
    }
    const next = Math.min(giveUp, ...timers.map((t) => t.at));
    Atomics.wait(signal, 0, seen, Math.max(0, next - performance.now()));
  }
  void worker.terminate();
  if (res.status === 0 && res.error !== '') liveProblems.push(`WS ${url}: failed (${res.error})`);
  return res;
}

/** The k6 modules in live mode: real requests, real checks; everything else stays a stub. */
const LIVE = {
  k6: {
    check(res, sets) {
      let ok = true;
      for (const [name, fn] of Object.entries(sets ?? {})) {
        if (!fn(res)) {
          ok = false;
          liveProblems.push(`check "${name}" failed (status ${res?.status})`);
        }
      }
      return ok;
    },
    sleep() {},
  },
  'k6/http': {
    get: (url, params) => liveRequest('GET', url, null, params),
    head: (url, params) => liveRequest('HEAD', url, null, params),
    del: (url, body, params) => liveRequest('DELETE', url, body, params),
    post: (url, body, params) => liveRequest('POST', url, body, params),
    put: (url, body, params) => liveRequest('PUT', url, body, params),
    patch: (url, body, params) => liveRequest('PATCH', url, body, params),
    request: (method, url, body, params) => liveRequest(method, url, body, params),
    expectedStatuses,
    setResponseCallback: (callback) => {
      defaultCallback = callback;
    },
  },
  'k6/ws': { connect: liveWsConnect },
};

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
  'k6/ws': ['default', 'connect'],
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
  const context = vm.createContext({ __ENV: live ? { ...liveEnv } : {}, __VU: 1, __ITER: 0, console });
  liveProblems = [];
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
      // One module per k6 specifier, held here until evaluated: a SyntheticModule that only V8's
      // module graph refers to can be collected after linking, and evaluating the graph then
      // crashes Node 20 (SIGSEGV in SyntheticModuleEvaluationStepsCallback).
      const held = cache.get(`k6:${specifier}`);
      if (held) return held;
      const names = K6[specifier];
      const synthetic = new vm.SyntheticModule(
        names,
        function () {
          const real = live ? (LIVE[specifier] ?? {}) : {};
          for (const n of names) this.setExport(n, real[n] ?? stubFn());
          if (live && names.includes('default'))
            this.setExport('default', new Proxy(real, { get: (t, p) => t[p] ?? stubFn() }));
        },
        { context, identifier: specifier },
      );
      cache.set(`k6:${specifier}`, synthetic);
      return synthetic;
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
  if (live && liveProblems.length > 0)
    throw new Error(`against ${liveEnv.BASE_URL}: ${liveProblems.join('; ')}`);
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

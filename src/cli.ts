#!/usr/bin/env node
/**
 * switchyard start [-c FILE] | check [-c FILE] | reload | reopen | stop [-c FILE] | version | --help
 */
// First: SIGUSR1 must not start the inspector, nor SIGHUP kill us, while the rest loads.
import './ops/early-signals.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { nodeVersionProblem } from './node-version.js';
import { holdStopSignals } from './ops/early-signals.js';

const USAGE = `usage: switchyard <command> [options]

commands:
  start [-c FILE]   serve the configuration (default conf/switchyard.yaml)
  check [-c FILE]   validate the configuration, print every problem with its path (like nginx -t)
  reload [-c FILE]  check the configuration, then tell the running instance (pid: in it) to reload
  reopen [-c FILE]  tell the running instance to reopen its log files (after rotating them)
  stop [-c FILE]    tell the running instance to stop gracefully (readiness fails, then drain)
  version           print the version

options:
  -c, --config FILE   configuration file (YAML or JSON)
  -v, --version       print the version
  -h, --help          this help
`;

function version(packageRoot: string): string {
  const pkg = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8')) as { version: string };
  return pkg.version;
}

function fail(message: string, code = 1): never {
  process.stderr.write(`switchyard: ${message}\n`);
  process.exit(code);
}

/** parseArgs' own message for an unknown option is long and its quotes do not pair. */
function usageError(err: Error & { code?: string }): string {
  const m = /^Unknown option '([^']+)'/.exec(err.message);
  return err.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && m !== null ? `unknown option ${m[1]}` : err.message;
}

async function main(argv: string[]): Promise<void> {
  // Before anything else is imported: on an older Node, undici would fail in a less clear way.
  const tooOld = nodeVersionProblem();
  if (tooOld !== undefined) fail(tooOld);
  const { ConfigError, DEFAULT_CONFIG, packageRoot } = await import('./config/load.js');
  let parsed: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean', short: 'v' },
      },
    });
  }
  try {
    parsed = parse();
  } catch (err) {
    fail(`${usageError(err as Error)}\n\n${USAGE}`, 2);
  }
  const { values, positionals } = parsed;
  const command = values.version ? 'version' : positionals[0];
  if (values.help || command === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  if (positionals.length > 1) fail(`unexpected argument "${positionals[1]}"\n\n${USAGE}`, 2);
  const file = values.config ?? DEFAULT_CONFIG;
  switch (command) {
    case 'version':
      process.stdout.write(`switchyard ${version(packageRoot)} (node ${process.version})\n`);
      return;
    case 'check': {
      const { configWarnings, loadChecked } = await import('./check.js');
      try {
        const loaded = await loadChecked(file);
        for (const w of configWarnings(loaded)) process.stderr.write(`${file}: warning: ${w}\n`);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          process.exit(1);
        }
        throw err;
      }
      process.stdout.write(`${file}: configuration ok\n`);
      return;
    }
    case 'reload':
    case 'reopen':
    case 'stop': {
      const { signalRunning } = await import('./ops/control.js');
      const r = await signalRunning(command, file);
      if (!r.ok) fail(r.message);
      process.stdout.write(`${r.message}\n`);
      return;
    }
    case 'start': {
      holdStopSignals();
      const { start, exitOnSignals } = await import('./main.js');
      let started: Awaited<ReturnType<typeof start>>;
      try {
        started = await start(file);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`switchyard: ${err.message}\n`);
          process.exit(1);
        }
        fail((err as Error).message);
      }
      exitOnSignals(started);
      return;
    }
    case undefined:
      fail(`missing command\n\n${USAGE}`, 2);
      break;
    default:
      fail(`unknown command "${command}"\n\n${USAGE}`, 2);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  fail(err instanceof Error ? err.message : String(err));
});

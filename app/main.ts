// `npm start`: the switch on the defaults of SPEC §1. Operator errors (bad configuration, no
// redis-server, a data dir owned by another live switch) end the process with one line and a
// non-zero exit, never a stack trace.
import { maskPansIn } from '../iso/mask.js';
import { loadConfig } from './config.js';
import { startSwitch } from './start.js';
import { log, setLogLevel } from '../log/index.js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../ledger/scripts.js';
import { parseCommandLine } from '../scripts/cli.js';
import { isStartupError } from '../errors/index.js';

/** How often the switch looks whether the `npm start` process that launched it is still there. */
const PARENT_CHECK_INTERVAL_MS = 1000;

/**
 * `--help`: the environment options with their defaults, read from the table of
 * docs/configuration.md, where each option is documented once.
 */
function usage(): string {
  const head = 'usage: npm start   (node dist/app/main.js)\n\nThe switch takes no arguments; it is configured by environment variables:\n';
  let rows: string[][];
  try {
    const doc = readFileSync(join(projectRoot(), 'docs', 'configuration.md'), 'utf8');
    const table = doc.slice(0, doc.indexOf('\nFixed limits'));
    rows = [...table.matchAll(/^\| `([A-Z_0-9]+)` \| ([^|]+) \| (.+) \|$/gm)].map((m) => [m[1]!, m[2]!.trim().replace(/`/g, ''), firstClause(m[3]!)]);
  } catch {
    return head + '  (docs/configuration.md is not here to list them)\n';
  }
  const w = Math.max(...rows.map((r) => r[0]!.length)) + 2;
  const d = Math.max(...rows.map((r) => r[1]!.length)) + 2;
  return head + rows.map(([name, dflt, what]) => `  ${name!.padEnd(w)}${dflt!.padEnd(d)}${what}`).join('\n') + '\n\nEvery option in full: docs/configuration.md\n';
}

/** The start of a table cell's text: up to the first sentence end or 100 characters, Markdown removed. */
function firstClause(cell: string): string {
  const plain = cell.replace(/\[([^\]]+)\]\([^)]+\)/g, '$1').replace(/`/g, '');
  const end = plain.search(/[.;](\s|$)/);
  const clause = end < 0 ? plain : plain.slice(0, end);
  return clause.length > 100 ? clause.slice(0, 99) + '…' : clause;
}

async function main(): Promise<void> {
  parseCommandLine('antaca-switch', process.argv.slice(2), usage);
  const config = loadConfig(process.env);
  setLogLevel(config.logLevel);
  const starting = startSwitch({ config, onFatal: () => process.exit(1) });
  let exiting = false;
  const shutdown = (why: string, fields: Record<string, unknown>) => {
    if (exiting) { log('info', 'shutdown already in progress', fields); return; }
    exiting = true;
    log('info', why, fields);
    // A signal during start-up waits for the start to finish, then stops all of it; a start that
    // fails is reported by main's caller.
    starting.then(async (app) => { await app.stop(); process.exit(0); }, () => {}).catch((err: unknown) => {
      log('error', 'shutdown failed', { error: String((err as Error).message ?? err) });
      process.exit(1);
    });
  };
  const onSignal = (sig: NodeJS.Signals) => shutdown('shutting down', { signal: sig });
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGHUP', onSignal);
  watchParent((ppid) => shutdown('the npm process that started the switch is gone: shutting down', { ppid }));
  await starting;
}

/**
 * Under `npm start` the switch is npm's child (the script execs node, so npm's forwarded SIGTERM
 * and SIGINT reach it directly). Should npm itself die without forwarding anything (SIGKILL, a
 * closed terminal), the switch is re-parented: it notices within PARENT_CHECK_INTERVAL_MS and shuts
 * down rather than live on as an orphan. Run directly (`node dist/app/main.js`, under a
 * process supervisor) nothing is watched: a parent that exits there means nothing.
 */
function watchParent(gone: (ppid: number) => void): void {
  if (process.env.npm_lifecycle_event === undefined) return;
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid !== parent) { clearInterval(timer); gone(parent); }
  }, PARENT_CHECK_INTERVAL_MS);
  timer.unref();
}

main().catch((err: unknown) => {
  const known = isStartupError(err);
  const e = err as { message?: string; code?: string };
  if (known || e.code === 'EADDRINUSE' || e.code === 'EACCES') {
    process.stderr.write(`antaca-switch: ${maskPansIn(e.message ?? String(err))}\n`);
  } else {
    process.stderr.write(`antaca-switch: failed to start: ${maskPansIn(e.message ?? String(err))}\n`);
  }
  process.exit(1);
});

// Every `npm run` command answers --help (exit 0, its usage or options) and refuses an unknown flag
// with a non-zero exit and exactly one line on stderr, before doing any work. The commands run
// from source through tsx, so no build is needed.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** npm script → its entry point in the source tree. */
const COMMANDS: ReadonlyArray<readonly [script: string, entry: string]> = [
  ['start', 'app/main.ts'],
  ['sim', 'simulators/processor.ts'],
  ['sim:partner', 'simulators/partner/main.ts'],
  ['sim:scheme', 'simulators/scheme/main.ts'],
  ['fault-run', 'simulators/fault/main.ts'],
  ['iso', 'simulators/iso/main.ts'],
  ['ledger:check', 'ledger/check.ts'],
  ['bench', 'bench/run.ts'],
  ['bench:codec', 'bench/codec.ts'],
  ['bench:ledger', 'bench/ledger.ts'],
  ['bench:switch', 'bench/switch.ts'],
  ['bench:history', 'bench/history-cost.ts'],
  ['bench:soak', 'bench/history-soak.ts'],
  ['docs:api', 'scripts/docs-api.ts'],
  ['docs:errors', 'scripts/docs-errors.ts'],
];

function run(entry: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    // No Redis or switch is reachable on these: a command that ignored its arguments would fail differently.
    const env = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1', ISO_PORT: '1', NODE_OPTIONS: '' };
    execFile(process.execPath, ['--import=tsx', entry, ...args], { cwd: ROOT, env, timeout: 60_000 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
}

for (const [script, entry] of COMMANDS) {
  t.test(`npm run ${script}`, async (t) => {
    const help = await run(entry, ['--help']);
    t.equal(help.code, 0, `--help exits 0 (stderr: ${help.stderr.slice(0, 200)})`);
    t.match(help.stdout, /usage|options/i, '--help prints the usage or the options');

    const bad = await run(entry, ['--nope']);
    t.not(bad.code, 0, '--nope exits non-zero');
    t.not(bad.code, null, '--nope exits rather than hangs');
    const lines = bad.stderr.split('\n').filter((l) => l.trim() !== '');
    t.equal(lines.length, 1, `exactly one line on stderr: ${JSON.stringify(bad.stderr.slice(0, 300))}`);
    t.match(lines[0] ?? '', /nope/, 'the line names the argument');
  });
}

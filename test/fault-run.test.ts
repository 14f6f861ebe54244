// `npm run fault-run` on a short run (300 messages at 150/s): partner errors and hangs, a Redis
// SIGKILL and a switch restart, then the ledger check and the EXTERNAL_BALANCE reconciliation.
// What is asserted: the summary names the seed, the ledger check passes, no approved debit is
// missing at the partner and no partner debit is unexplained. The exit code is 0 unless a balance
// differs; while the switch sends nothing to the partner for a clearing below its authorization
// (docs/partners.md, "A seeded fault run"), such a difference may appear, and then every one must
// be exactly what those clearings left debited.
import t from 'tap';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { redisServerInstalled } from '../ledger/redis-server.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

t.test('a short seeded fault run', { skip: redisServerInstalled() ? false : 'redis-server is not installed', timeout: 180_000 }, async (t) => {
  const r = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const env = { ...process.env, NODE_OPTIONS: '' };
    execFile(process.execPath, ['--import=tsx', 'simulators/fault/main.ts', '--seed', '7', '--count', '300', '--rate', '150'], { cwd: ROOT, env, timeout: 170_000, maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : null, stdout, stderr });
    });
  });
  t.equal(r.stderr.trim(), '', 'nothing on stderr');
  t.match(r.stdout, /fault run summary \(seed 7\)/, 'the summary names the seed');
  t.match(r.stdout, /ledger check: PASS/, 'the ledger check passes');
  t.match(r.stdout, /0 approved debits missing at the partner, 0 partner debits unexplained/, 'every approved debit is at the partner, every partner debit is explained');
  const differences = Number(/(\d+) balance differences/.exec(r.stdout)?.[1] ?? NaN);
  if (differences === 0) {
    t.equal(r.code, 0, 'exit 0');
  } else {
    t.equal(r.code, 1, 'exit 1: a balance differs');
    t.match(r.stdout, new RegExp(`${differences} of the ${differences} differences are exactly what clearings for less`), 'only clearings below their authorization explain them');
  }
  t.match(r.stdout, /outbox: drained/, 'the outbox drained');
});

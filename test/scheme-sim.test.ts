// The scheme simulator against test switches in this process (real Redis, real sockets, cards made
// through the management API): every scripted scenario with zero mismatches (the issuer-practice
// and card-data ones in the 2003 dialect too), and the seeded random mix giving the same counts
// against two fresh switches. The command line is run as a child process for --help and bad
// arguments.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { startTestSwitch } from './helpers/switch.js';
import { runScheme, formatSummary, type SchemeOptions } from '../simulators/scheme/run.js';
import { SCENARIOS } from '../simulators/scheme/scenarios.js';

const MAIN = new URL('../simulators/scheme/main.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

async function options(t: { teardown(fn: () => unknown): void }, o: Partial<SchemeOptions>, env: Record<string, string> = {}): Promise<SchemeOptions> {
  const s = await startTestSwitch(t, { env });
  return {
    isoHost: '127.0.0.1', isoPort: s.app.isoPort, httpUrl: `http://127.0.0.1:${s.app.httpPort}`, tls: null, dialect: '1987',
    connections: 4, scenarios: [], count: 0, seed: 1, ratePerSecond: 500, cards: 6, keysFile: s.keysFile, ...o,
  };
}

t.test('every scripted scenario: no mismatch, every card balance as the model says', async (t) => {
  const summary = await runScheme(await options(t, { scenarios: [...SCENARIOS] }));
  t.same(summary.mismatches, [], 'no mismatch', { summary: formatSummary(summary) });
  t.equal(summary.cardsChecked, 26, 'a card per scenario that needs one, checked through the API');
  const counts = Object.fromEntries(summary.counts);
  t.match(counts, {
    '0100 → 0110      00   APPROVED': Number, '0100 → 0110      85   ACCOUNT_VERIFIED': 1, '0100 → 0110      51   INSUFFICIENT_FUNDS': 3,
    '0100 → 0110      59   CARD_LOCK_7_SUSPECTED_FRAUD': 1, '0100 → 0110      14   CARD_NOT_FOUND': 1, '0100 → 0110      05   ALREADY_REVERSED': 1,
    '0100 → 0110      30   FORMAT_ERROR': 1, '0100 → (dropped)': 1, '0300 → 0310      12   UNKNOWN_TRANSACTION_TYPE': 1,
    '0101 → 0110      00   APPROVED': 1, '0201 → 0210      00   APPROVED': 1, '0221 → 0230      00   APPROVED': 1, '0401 → 0410      00   APPROVED': 1,
    '0120 → 0130      00   APPROVED': 2, '0420 → 0430      00   APPROVED': 2,
    '0100 → 0110      10   PARTIAL_APPROVAL': 1, '0100 → 0110      57   TRANSACTION_NOT_PERMITTED': 2,
    '0100 → 0110      63   SECURITY_VIOLATION': 3, '0200 → 0210      55   INCORRECT_PIN': 2, '0200 → 0210      75   CARD_LOCK_6_PIN_TRIES_EXCEEDED': 1,
  }, 'each situation answered as the contract says');
});

t.test('issuer practice and card data in the 2003 dialect: the same scenarios, no mismatch', async (t) => {
  const names = ['partial', 'increment', 'completion', 'controls', 'cvv2', 'swipe', 'chip', 'pin'];
  const summary = await runScheme(await options(t, { dialect: '2003', scenarios: SCENARIOS.filter((s) => names.includes(s.name)) }, { ISO_DIALECT: '2003' }));
  t.same(summary.mismatches, [], 'no mismatch', { summary: formatSummary(summary) });
  t.match(Object.fromEntries(summary.counts), {
    '0100 → 0110      0002 PARTIAL_APPROVAL': 1, '0100 → 0110      1019 TRANSACTION_NOT_PERMITTED': 2, '0100 → 0110      1022 SECURITY_VIOLATION': 3,
  }, 'the 2003 action codes, named');
});

t.test('the random mix: the same seed against two fresh switches gives the same counts', async (t) => {
  const a = await runScheme(await options(t, { count: 150, seed: 20_261_129 }));
  const b = await runScheme(await options(t, { count: 150, seed: 20_261_129 }));
  t.same(a.mismatches, [], 'no mismatch in the first run', { summary: formatSummary(a) });
  t.same(b.mismatches, [], 'no mismatch in the second run', { summary: formatSummary(b) });
  const total = [...a.counts.values()].reduce((x, y) => x + y, 0);
  t.ok(total >= 150, 'every intent sent (dropped frames add an echo)');
  t.same(Object.fromEntries(b.counts), Object.fromEntries(a.counts), 'same counts by MTI and field 39');
});

t.test('command line: --help, and one line with exit 1 on bad arguments', async (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [`--import=${TSX}`, MAIN, ...args], { encoding: 'utf8' });
  const help = run('--help');
  t.equal(help.status, 0, '--help exits 0');
  for (const s of SCENARIOS) t.match(help.stdout, s.name, `--help lists ${s.name}`);
  for (const bad of [['--connections', '0'], ['--scenarios', 'nope'], ['--iso', 'nowhere'], ['--bogus'], ['--seed', '-3']]) {
    const r = run(...bad);
    t.equal(r.status, 1, `${bad.join(' ')}: exit 1`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${bad.join(' ')}: one line`);
    t.equal(r.stdout, '', `${bad.join(' ')}: nothing on stdout`);
  }
});

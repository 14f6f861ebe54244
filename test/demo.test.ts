// `npm run demo` as a child process against a test switch started here (real Redis, real sockets):
// it uses that switch, makes its cards through the management API (the switch's records name the
// card ids it printed), plays them with the switch's card keys (CVV2, ARQC or track, PIN blocks),
// answers come back approved and declined for several reasons, the summary names each code's
// reason, no full PAN is printed, and it exits 0 after --duration and after a SIGINT mid-run (that
// run limited by --kinds to the attacks, partial approvals, increments, completions and a card
// control, each answered as it should be). Bad arguments give one line and exit 1.
import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startTestSwitch } from './helpers/switch.js';
import { ApiClient } from './helpers/api.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

interface Run { code: number | null; out: string; err: string }

/** `npm run demo -- args` in its own process group (as a terminal's Ctrl-C reaches it); `during` runs while it does. */
function demo(args: string[], env: Record<string, string>, during?: (child: { pid: number; out: () => string }) => Promise<void>): Promise<Run> {
  const child = spawn('npm', ['run', '--silent', 'demo', '--', ...args], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { err += d.toString(); });
  const closed = new Promise<Run>((resolve) => child.once('close', (code) => resolve({ code, out, err })));
  if (during) void during({ pid: child.pid as number, out: () => out });
  return closed;
}

async function until(what: () => boolean, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (!what()) { if (Date.now() > end) return false; await new Promise((r) => setTimeout(r, 50)); }
  return true;
}

const DECLINES = ['51   INSUFFICIENT_FUNDS', '59   CARD_LOCK_7_SUSPECTED_FRAUD', '14   CARD_NOT_FOUND', '54   EXPIRED_CARD', '62   AML_EXCEPTION', '61   EXCEEDS_AMOUNT_LIMIT', '13   INVALID_AMOUNT', '12   UNKNOWN_TRANSACTION_TYPE'];

t.test('a run with --duration against a running switch', async (t) => {
  const s = await startTestSwitch(t);
  const api = new ApiClient(s.app.httpPort);
  const r = await demo(['--non-interactive', '--duration', '4', '--rate', '40', '--http', `127.0.0.1:${s.app.httpPort}`, '--iso', `127.0.0.1:${s.app.isoPort}`], { KEYS_FILE: s.keysFile });
  t.equal(r.code, 0, 'exits 0', { err: r.err });
  t.match(r.out, `card data: CVV2s, tracks, ARQCs and PIN blocks made with the card keys of ${s.keysFile}`, 'plays the cards with this switch\'s keys');
  t.match(r.out, /using the switch already running at http:\/\/127\.0\.0\.1:\d+/, 'says it uses the running switch');
  t.match(r.out, /seed \d+/, 'prints the seed');
  t.notMatch(r.out + r.err, /\d{13,19}/, 'no full PAN (no run of 13-19 digits) anywhere');

  const cardIds = [...r.out.matchAll(/^card (\S+) 555770\*{6}\d{4} /gm)].map((m) => m[1] as string);
  t.ok(cardIds.length >= 13, `the cards it made are listed masked (${cardIds.length})`);
  let withRecords = 0;
  for (const id of cardIds) {
    const page = await api.get(`/secure/transactions?cardId=${encodeURIComponent(id)}&limit=100`);
    t.equal(page.status, 200, `transactions of card ${id}`);
    const items = page.json.items as Array<{ cardId: string | null }>;
    t.ok(items.every((x) => x.cardId === id), `the switch's records of ${id} name that card`);
    if (items.length > 0) withRecords++;
  }
  t.ok(withRecords >= 8, `the switch decided messages of the cards the API made (${withRecords} of ${cardIds.length} have records)`);

  const summary = r.out.slice(r.out.indexOf('demo stopped (duration reached)'));
  t.ok(summary.length > 0, 'a final summary');
  t.match(summary, /answers by response code/);
  t.match(summary, /^ +\d+ {2}00 {3}APPROVED$/m, 'approvals, with the reason name');
  const declines = DECLINES.filter((d) => new RegExp(`^ +\\d+ {2}${d}$`, 'm').test(summary));
  t.ok(declines.length >= 4, `several kinds of declines with their reason names: ${declines.join(', ')}`);
  t.match(summary, /latency +p50 [\d.]+ ms +p95 [\d.]+ ms +p99 [\d.]+ ms/, 'latency percentiles');
  t.match(summary, /^card data +(?=.*CVV2 \d+)(?=.*(ARQC|track 2) \d+)(?=.*PIN block \d+)/m, 'messages carried CVV2s, chip reads or tracks, and PIN blocks');
  t.notMatch(summary, /^ +\d+ {2}(30|75) /m, 'no card datum malformed (30), no card locked by its PIN tries (75)');
  t.match(summary, /provisioned through the management API: \d+ customers, \d+ balances, \d+ cards/, 'what was provisioned');
});

const NEWEST = ['wrong-cvv2', 'replayed-atc', 'wrong-pin', 'partial-approval', 'incremental-authorization', 'completion-advice', 'blocked-merchant-category'];

t.test('SIGINT mid-run stops cleanly with a summary; attacks, partial approvals, increments, completions, a card control', async (t) => {
  const s = await startTestSwitch(t);
  const r = await demo(['--non-interactive', '--rate', '40', '--kinds', NEWEST.join(','), '--http', `127.0.0.1:${s.app.httpPort}`, '--iso', `127.0.0.1:${s.app.isoPort}`], { KEYS_FILE: s.keysFile }, async (c) => {
    const running = await until(() => /^\[ +\d+ s\] sent/m.test(c.out()), 60_000);
    t.ok(running, 'it was running');
    process.kill(-c.pid, 'SIGINT');
  });
  t.equal(r.code, 0, 'exits 0 after SIGINT', { err: r.err });
  t.match(r.out, /demo stopped \(SIGINT\)/);
  t.match(r.out, /^ +\d+ {2}00 {3}APPROVED$/m, 'the summary counts answers by code with reason names');
  for (const line of ['63   SECURITY_VIOLATION', '55   INCORRECT_PIN', '10   PARTIAL_APPROVAL', '57   TRANSACTION_NOT_PERMITTED']) {
    t.match(r.out, new RegExp(`^ +\\d+ {2}${line}$`, 'm'), `${line.replace(/ +/, ' ')}, named`);
  }
  t.notMatch(r.out, /^ +\d+ {2}(59|75|30) /m, 'each attack followed by the right datum: the attack card is never locked (59, 75), no datum malformed (30)');
  t.match(r.out, /^mix sent: (?=.*wrong CVV2 \d+)(?=.*replayed ATC \d+)(?=.*wrong PIN \d+)(?=.*incremental authorization \d+)(?=.*completion advice \d+)/m, 'every attack, increments and completions were sent');
  t.notMatch(r.out + r.err, /\d{13,19}/, 'no full PAN');
});

t.test('--help lists every option; a bad argument is one line and exit 1', async (t) => {
  const run = (...args: string[]) => spawnSync(process.execPath, [`--import=${import.meta.resolve('tsx')}`, 'simulators/demo/main.ts', ...args], { cwd: ROOT, encoding: 'utf8' });
  const help = run('--help');
  t.equal(help.status, 0);
  for (const o of ['--http', '--iso', '--rate', '--duration', '--seed', '--cards', '--connections', '--data-dir', '--no-partner', '--non-interactive', '--kinds', '--help', ...NEWEST]) t.match(help.stdout, o, `--help lists ${o}`);
  for (const bad of [['--rate', '0'], ['--duration', 'soon'], ['--iso', 'nowhere'], ['--bogus'], ['--http', 'https://x:1'], ['--kinds', 'teleport'], ['--kinds', ',']]) {
    const r = run(...bad);
    t.equal(r.status, 1, `${bad.join(' ')}: exit 1`);
    t.equal(r.stderr.trim().split('\n').length, 1, `${bad.join(' ')}: one line`);
  }
});

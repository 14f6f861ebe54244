// docs/quickstart.md, run as a reader would: every ```sh block of the page (but the one that starts
// the switch, marked "not run by the test"), in order, in one bash session, against a switch
// started here on random ports (the page's 127.0.0.1:8080 and :8583 point at it). Then the outcome
// is checked through the API: the balance, the card's transactions, the partner balances; and no
// command printed a full PAN.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startApiSwitch, serverKinds } from './helpers/api.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SKIP = '<!-- not run by the test';

/** The page's sh blocks, in order, without those marked as not run. */
function quickstartBlocks(page: string): string[] {
  const blocks: string[] = [];
  for (const m of page.matchAll(/(<!--[^\n]*-->\n)?```sh\n([\s\S]*?)```/g)) {
    if ((m[1] ?? '').startsWith(SKIP)) continue;
    blocks.push(m[2] as string);
  }
  return blocks;
}

t.test('the quickstart page, command by command, against a live switch', async (t) => {
  const page = readFileSync(join(ROOT, 'docs/quickstart.md'), 'utf8');
  const blocks = quickstartBlocks(page);
  t.ok(blocks.length >= 10, `${blocks.length} blocks to run`);
  t.ok(page.includes(`${SKIP}`) && page.includes('npm ci && npm start'), 'the start command is on the page, not run here');

  const { kind } = serverKinds().find((k) => k.skip === false)!;
  const s = await startApiSwitch(t, kind);
  const dir = mkdtempSync(join(tmpdir(), 'antaca-quickstart-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const script = ['set -euo pipefail', ...blocks.map((b, i) => `echo "::block ${i + 1}"\n${b}`),
    'echo "::ids $CUSTOMER_ID $BALANCE_ID $CARD_ID $TX_ID $TX2_ID $CREDIT_ID $DEPOSIT_ID"'].join('\n')
    .replaceAll('http://127.0.0.1:8080', `http://127.0.0.1:${s.app.httpPort}`)
    .replaceAll('127.0.0.1:8583', `127.0.0.1:${s.app.isoPort}`);
  const file = join(dir, 'quickstart.sh');
  writeFileSync(file, script);
  // From the repository's directory, as the page says (npm run needs it); the one-message tool keeps
  // its STAN counter and last answers (no PAN) in var/iso there.
  const child = spawn('bash', [file], { cwd: ROOT, env: { ...process.env, ANTACA_API_KEY: '', ISO_PAN: '', npm_config_loglevel: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr.on('data', (d: Buffer) => { out += d.toString(); });
  const code = await new Promise<number | null>((r) => child.once('close', r));
  t.equal(code, 0, 'every command ran', { out: out.slice(-3000) });

  const ids = /::ids (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)/.exec(out);
  t.ok(ids, 'the page set its ids');
  if (ids === null) return;
  const [customerId, balanceId, cardId, txId, tx2Id, creditId, depositId] = ids.slice(1) as [string, string, string, string, string, string, string];
  const api = s.api;

  t.match(out, /\{"status":"ok"/, 'health');
  t.match(out, /number {4}555770\*{6}\d{4} {3}\(--reveal shows it in full\)/, 'npm run card shows the number masked');
  t.match(out, /39 {2}Response code +00 +\(APPROVED\)/, 'npm run iso: approved');
  const card = await api.get(`/secure/cards/${cardId}`);
  t.equal(card.json.customerId, customerId);

  // 100.00 topped up; 25.00 authorized and cleared; 40.00 authorized and reversed; 12.34 held over
  // ISO; 50.00 topped up from the CREDIT balance; 10.00 authorized against the deposit and the user.
  const b = (await api.get(`/secure/customers/${customerId}/balances/${balanceId}`)).json;
  t.same({ available: b.available, blocked: b.blocked }, { available: 10_000 - 2_500 - 1_234 + 5_000 - 1_000, blocked: 1_234 + 1_000 }, 'the balance adds up');
  t.equal((await api.get(`/secure/transactions/${txId}`)).json.status, 'CLEARED', 'the first authorization is cleared');
  t.equal((await api.get(`/secure/transactions/${tx2Id}`)).json.status, 'REVERSED', 'the second is reversed');
  const list = (await api.get(`/secure/transactions?cardId=${cardId}`)).json.items as Array<{ mti: string; status: string; responseCode: string }>;
  t.same(list.map((x) => `${x.mti} ${x.status} ${x.responseCode}`), [
    '0100 AUTHORIZED 00', '0100 AUTHORIZED 00', '0400 REVERSED 00', '0100 REVERSED 00', '0220 CLEARED 00', '0100 CLEARED 00',
  ], 'the card\'s transactions, newest first');
  t.match((await api.get(`/secure/partner-balances/${creditId}`)).json, { type: 'CREDIT', available: 95_000 }, 'the top-up came from the CREDIT balance');
  t.match((await api.get(`/secure/partner-balances/${depositId}`)).json, { type: 'DEPOSIT', available: 49_000, blocked: 1_000 }, 'the payment was held on the DEPOSIT balance');

  const revealed = await new Promise<string>((resolve) => {
    const c = spawn('npm', ['run', '-s', 'card', '--', 'show', cardId, '--json', '--reveal'], { cwd: ROOT, env: { ...process.env, ANTACA_URL: `http://127.0.0.1:${s.app.httpPort}` }, stdio: ['ignore', 'pipe', 'inherit'] });
    let o = '';
    c.stdout.on('data', (d: Buffer) => { o += d.toString(); });
    c.once('close', () => resolve(o));
  });
  const full = JSON.parse(revealed) as { cardNo: string };
  t.match(full.cardNo, /^555770\d{10}$/, 'card show --reveal gives the card number');
  t.notOk(out.includes(full.cardNo), 'no command of the page printed the full PAN');
});

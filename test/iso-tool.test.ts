// The one-message tool (npm run iso) as a child process against a test switch, with a card made
// through the management API: send prints the answer by field name with masked PAN, reverse from
// the saved answer restores the balance, clear posts, bad arguments give one line and exit 1. The
// PAN never goes on the command line: --card-id reads it through the API, ISO_PAN from the
// environment, `--pan -` from stdin; `--pan <digits>` is refused. With --card-id the message carries
// card data built from the card (--cvv2, --swipe with the sandbox's track image, --chip, --pin,
// --accepts-partial), each answered as the switch decides it, and no card secret is ever printed.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSwitch } from './helpers/switch.js';
import { ApiClient, issueVirtualCard, walletWithBalance } from './helpers/api.js';
import { ManagementApi } from '../simulators/lib/management-api.js';
import { CardDataBuilder } from '../cardauth/card-data.js';

const MAIN = new URL('../simulators/iso/main.ts', import.meta.url).pathname;
const TSX = import.meta.resolve('tsx');

interface Run { code: number | null; out: string; err: string }

function iso(cwd: string, args: string[], o: { env?: Record<string, string>; stdin?: string } = {}): Promise<Run> {
  const env = { ...process.env, ISO_PAN: '', ...o.env };
  const child = spawn(process.execPath, [`--import=${TSX}`, MAIN, ...args], { cwd, env, stdio: [o.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (o.stdin !== undefined) child.stdin!.end(o.stdin);
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => { out += d.toString(); });
  child.stderr!.on('data', (d: Buffer) => { err += d.toString(); });
  return new Promise((resolve) => child.once('close', (code) => resolve({ code, out, err })));
}

/** The answer part of the output (after the ← line). */
const answerOf = (r: Run): string => r.out.slice(r.out.indexOf('←'));

t.test('send, reverse, clear against a switch', async (t) => {
  const s = await startTestSwitch(t);
  const api = new ApiClient(s.app.httpPort);
  const { customerId, balanceId } = await walletWithBalance(api);
  t.equal((await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 10_000, currency: 'EUR' })).status, 201);
  const card = await issueVirtualCard(api, customerId, balanceId);
  const balance = async () => (await api.get(`/secure/customers/${customerId}/balances/${balanceId}`)).json as { available: number; blocked: number };
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-iso-tool-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const link = ['--port', String(s.app.isoPort)];
  const masked = card.pan.slice(0, 6) + '******' + card.pan.slice(-4);

  const viaApi = { env: { ANTACA_URL: `http://127.0.0.1:${s.app.httpPort}` } };
  const sent = await iso(cwd, ['send', '0100', '--card-id', card.id, '--amount', '12.34', '--exp', card.expiry, '--mcc', '5812', '--field', '43=CORNER SHOP            KRAKOW        POL', ...link], viaApi);
  t.equal(sent.code, 0, 'send exits 0');
  t.match(sent.out, /→ 0100/);
  t.match(answerOf(sent), /← 0110/, 'an 0110 came back');
  t.match(answerOf(sent), /39 {2}Response code +00 +\(APPROVED\)/, 'field 39 with its reason');
  t.match(answerOf(sent), /54 {2}Additional amounts .*\(ledger 100\.00 EUR, available 87\.66 EUR\)/, 'field 54 decoded');
  t.match(sent.out, /43 {2}Card acceptor name\/location +CORNER SHOP {12}KRAKOW {8}POL/, 'field 43 as given');
  t.match(sent.out, / 4 {2}Amount, transaction +000000001234/, 'amount in minor units');
  t.match(sent.out, new RegExp(`Primary account number \\(PAN\\) +${masked.replace(/\*/g, '\\*')}`), 'PAN masked');
  t.notOk(sent.out.includes(card.pan) || sent.err.includes(card.pan), 'no full PAN printed');
  t.same(await balance(), { ...(await balance()), available: 8_766, blocked: 1_234 }, 'held');
  t.notOk(readFileSync(join(cwd, 'var/iso/state.json'), 'utf8').includes(card.pan), 'the state file keeps no full PAN');

  const rev = await iso(cwd, ['reverse', ...link], { env: { ISO_PAN: card.pan } });
  t.equal(rev.code, 0, 'reverse exits 0');
  t.match(rev.out, /90 {2}Original data elements.*\(original 0100, STAN/, 'field 90 names the saved 0100');
  t.match(answerOf(rev), /← 0410[\s\S]*39 {2}Response code +00 +\(APPROVED\)/, '0410 approved');
  t.match(await balance(), { available: 10_000, blocked: 0 }, 'the balance is restored');

  const again = await iso(cwd, ['send', '0100', '--pan', '-', '--amount', '5', ...link], { stdin: `${card.pan}\n` });
  t.match(answerOf(again), /39 {2}Response code +00 /);
  const partial = await iso(cwd, ['reverse', '--card-id', card.id, '--final-amount', '2.00', ...link], viaApi);
  t.match(partial.out, /95 {2}Replacement amounts +000000000200\d{30} +\(final amount 000000000200\)/, 'field 95 carries the final amount');
  t.match(answerOf(partial), /39 {2}Response code +00 /);
  t.match(await balance(), { available: 9_800, blocked: 200 }, 'partial reversal released 3.00');

  const third = await iso(cwd, ['send', '0100', '--card-id', card.id, '--amount', '10.00', ...link], viaApi);
  t.match(answerOf(third), /39 {2}Response code +00 /);
  const clear = await iso(cwd, ['clear', '--card-id', card.id, '--amount', '8.00', ...link], viaApi);
  t.equal(clear.code, 0, 'clear exits 0');
  t.match(answerOf(clear), /← 0230[\s\S]*39 {2}Response code +00 /, '0230 acknowledged');
  t.match(await balance(), { available: 9_000, blocked: 200 }, 'cleared for less: 8.00 posted, 2.00 released');

  const echo = await iso(cwd, ['send', '0800', '--raw', ...link]);
  t.match(echo.out, /← 0810[\s\S]*70 {2}Network management information code +301/, 'echo answered');
  t.match(echo.out, /hex [0-9a-f]+/, '--raw prints hex');

  const onTheLine = await iso(cwd, ['send', '0100', '--pan', card.pan, '--amount', '1', ...link]);
  t.equal(onTheLine.code, 1, 'a PAN on the command line is refused');
  t.match(onTheLine.err, /--pan takes "-" \(the PAN from stdin\) only: a PAN on the command line is printed by npm and shown by ps/);
  for (const r of [sent, rev, again, partial, third, clear, echo, onTheLine]) {
    t.notOk(r.out.includes(card.pan) || r.err.includes(card.pan), 'no output holds the full PAN');
  }
  t.notOk(readFileSync(join(cwd, 'var/iso/state.json'), 'utf8').includes(card.pan), 'nor the state file');
});

t.test('card data built from the card: CVV2, track 2, chip, PIN, partial approval', async (t) => {
  const s = await startTestSwitch(t, { env: { SANDBOX: '1' } });
  const url = `http://127.0.0.1:${s.app.httpPort}`;
  const api = new ManagementApi(url);
  const physical = await api.newCard('iso-card-data', 20_000, undefined, 'physical');
  await api.setPin(physical, '2468');
  const virtual = await api.newCard('iso-partial', 3_000);
  const full = await api.cardData(physical.cardId);
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-iso-tool-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const env = { env: { ANTACA_URL: url, KEYS_FILE: s.keysFile } };
  const send = (mti: string, card: string, ...args: string[]) => iso(cwd, ['send', mti, '--card-id', card, '--port', String(s.app.isoPort), ...args], env);
  /** "55 INCORRECT_PIN" when field 39 is 55 and INCORRECT_PIN is among the reasons shown for it (several share a code). */
  const code = (r: Run, expected: string): string | undefined => {
    const m = /39 {2}Response code +(\d+) +\(([^)]*)\)/.exec(answerOf(r));
    const [want39, reason] = expected.split(' ');
    return m !== null && m[1] === want39 && (m[2] as string).split(' | ').includes(reason as string) ? expected : m?.slice(1).join(' ');
  };
  const runs: Run[] = [];
  const step = async (what: string, r: Promise<Run>, expected: string): Promise<Run> => {
    const got = await r;
    runs.push(got);
    t.equal(got.code, 0, `${what}: exit 0`, { err: got.err });
    t.equal(code(got, expected), expected, `${what}: ${expected}`);
    return got;
  };

  const ecom = await step('--cvv2', send('0100', physical.cardId, '--amount', '10', '--cvv2'), '00 APPROVED');
  t.match(ecom.out, /card data: e-commerce with the card's CVV2 \(48\.92\)/);
  t.match(ecom.out, /22 {2}Point of service entry mode +812/, 'entry mode 81');
  t.match(ecom.out, /48 {2}Additional data[^\n]*\[\d+ bytes withheld\]/, 'field 48 shown withheld');
  const wrong = String((Number(full.cvv) + 1) % 1000).padStart(3, '0');
  await step('--cvv2 with a wrong CVV2 by --field 48', send('0100', physical.cardId, '--amount', '10', '--cvv2', '--field', `48=9203${wrong}`), '63 SECURITY_VIOLATION');
  const swipe = await step('--swipe', send('0100', physical.cardId, '--amount', '5', '--swipe'), '00 APPROVED');
  t.match(swipe.out, /35 {2}Track 2 data[^\n]*\[\d+ bytes withheld\]/, 'the track shown withheld');
  const chip = await step('--chip', send('0100', physical.cardId, '--amount', '5', '--chip', '--raw'), '00 APPROVED');
  t.match(chip.out, /a chip read with an ARQC \(ATC 1\) and the iCVV/, 'the first ATC of the card');
  t.match(answerOf(chip), /55 {2}[^\n]*\[\d+ bytes withheld\]/, 'the answer carries an ARPC, shown withheld');
  await step('--chip again: the next ATC', send('0100', physical.cardId, '--amount', '5', '--chip'), '00 APPROVED');
  await step('--chip --atc 1: a replayed ATC', send('0100', physical.cardId, '--amount', '5', '--chip', '--atc', '1'), '63 SECURITY_VIOLATION');
  await step('ATM: --chip --pin', send('0200', physical.cardId, '--proc', '01', '--amount', '20', '--chip', '--pin', '2468'), '00 APPROVED');
  await step('ATM: --swipe with a wrong --pin', send('0200', physical.cardId, '--proc', '01', '--amount', '20', '--swipe', '--pin', '1111', '--raw'), '55 INCORRECT_PIN');
  await step('--pin - from stdin', iso(cwd, ['send', '0200', '--card-id', physical.cardId, '--port', String(s.app.isoPort), '--proc', '01', '--amount', '20', '--swipe', '--pin', '-'], { ...env, stdin: '2468\n' }), '00 APPROVED');
  t.match(await api.balance(physical), { available: 20_000 - 1_000 - 500 - 500 - 500 - 2_000 - 2_000, blocked: 1_000 + 500 + 500 + 500 }, 'what was approved moved, nothing else');

  const partial = await step('--accepts-partial above the balance', send('0100', virtual.cardId, '--amount', '50', '--cvv2', '--accepts-partial'), '10 PARTIAL_APPROVAL');
  t.match(answerOf(partial), / 4 {2}Amount, transaction +000000003000/, 'field 4: the amount approved');
  t.match(answerOf(partial), /54 {2}Additional amounts .*asked \(type 57\) 50\.00 EUR/, 'field 54: the amount asked for, amount type 57');
  await step('--accepts-partial for cash', send('0100', virtual.cardId, '--amount', '50', '--proc', '01', '--accepts-partial'), '51 INSUFFICIENT_FUNDS');

  const cd = CardDataBuilder.fromFile(s.keysFile);
  const ref = { configId: full.configId, pan: full.pan, expiry: full.expiry };
  const secrets = [full.pan, full.track2 as string, `9203${full.cvv}`, cd.pinBlock(ref, '123456', '2468'), cd.pinBlock(ref, '123456', '1111')];
  t.ok(full.track2 !== undefined, 'the sandbox shows the track image');
  for (const r of runs) {
    // The hex of --raw is wrapped over lines: searched with the white space taken out.
    const text = (r.out + r.err).replace(/\s+/g, '').toLowerCase();
    for (const x of secrets) {
      t.notOk(text.includes(x.toLowerCase()) || text.includes(Buffer.from(x, 'latin1').toString('hex')), 'no card secret printed, in text or in hex');
    }
  }

  const bad: Array<[string[], Record<string, string>]> = [
    [['send', '0100', '--cvv2'], { ISO_PAN: full.pan }], [['send', '0100', '--card-id', physical.cardId, '--cvv2', '--chip'], {}],
    [['send', '0100', '--card-id', physical.cardId, '--atc', '3'], {}], [['send', '0800', '--accepts-partial'], {}],
    [['reverse', '--card-id', physical.cardId, '--cvv2'], {}], [['send', '0100', '--card-id', physical.cardId, '--pin', '12'], {}],
    [['send', '0100', '--card-id', virtual.cardId, '--swipe'], {}], [['send', '0100', '--card-id', physical.cardId, '--chip', '--atc', '70000'], {}],
  ];
  for (const [args, extra] of bad) {
    const r = await iso(cwd, [...args, '--port', String(s.app.isoPort)], { env: { ...env.env, ...extra } });
    t.equal(r.code, 1, `${args.join(' ')}: exit 1`);
    t.equal(r.err.trim().split('\n').length, 1, `${args.join(' ')}: one line`, { err: r.err });
    t.notOk((r.out + r.err).includes(full.pan), 'the PAN is not printed');
  }
});

t.test('--help and bad arguments', async (t) => {
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-iso-tool-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const help = await iso(cwd, ['--help']);
  t.equal(help.code, 0);
  for (const name of ['Primary account number (PAN)', 'Card acceptor name/location', 'Original data elements', 'Additional amounts', 'System trace audit number', '--cvv2', '--swipe', '--chip', '--pin', '--accepts-partial', '--atc']) {
    t.ok(help.out.includes(name), `--help names ${name}`);
  }
  const bad: string[][] = [
    [], ['send'], ['send', '100'], ['send', '0100', '--amount', '1.234'], ['send', '0100', '--currency', 'XYZ'], ['send', '0100', '--bogus'],
    ['send', '0100', '--field', '200=1'], ['reverse'], ['reverse', '--pan', '5557700000000001'], ['send', '0100', '--dialect', '1993'],
    ['clear', '--pan', '5557700000000001', '--original', 'nonsense'], ['send', '0100', '--tls-cert', 'x.pem'],
  ];
  for (const args of bad) {
    const r = await iso(cwd, args);
    t.equal(r.code, 1, `${args.join(' ') || '(nothing)'}: exit 1`);
    t.equal(r.err.trim().split('\n').length, 1, `${args.join(' ') || '(nothing)'}: one line`);
    t.notOk(r.err.includes('5557700000000001'), 'the PAN is not repeated');
  }
});

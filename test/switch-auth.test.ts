// The first authorization path end to end: an 0100 over a real socket (peer: iso_8583) decided
// against a real Redis ledger; 0400 releases the hold. Cards and money are seeded through the
// ledger module and the card store.
import t from 'tap';
import { startTestSwitch, type TestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** After every scenario the ledger's invariants hold (what `npm run ledger:check` verifies). */
async function ledgerSound(s: TestSwitch): Promise<string> {
  const report = await checkLedger(s.redis.client, s.app.history.reads);
  return report.ok ? 'sound' : formatReport(report);
}

const PAN = '5557700000000018';
const EXP = '3012';
const DEMO = '0019167984';

interface Seeded { ledger: Ledger; balanceId: string }

async function seed(s: TestSwitch, pan: string, topUpMinor: number, depositMinor: number | null): Promise<Seeded> {
  const ledger = await Ledger.open(s.redis.client);
  const bal = await ledger.createUserBalance({ customerId: 'cust-' + pan.slice(-4), currency: 'EUR', configId: DEMO });
  if (topUpMinor > 0) {
    const r = await ledger.post({ type: 'TOPUP', idempotencyKey: 'seed-' + pan, txId: 'seed-' + pan, balanceId: bal.id, amountMinor: topUpMinor, partnerId: null });
    if (!r.ok) throw new Error('top-up failed: ' + r.reason);
  }
  if (depositMinor !== null) {
    const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
    await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: depositMinor, idempotencyKey: 'dep-' + pan });
  }
  await CardStore.fromSecrets(s.redis.client, s.app.secrets).put(pan, {
    id: 'card-' + pan.slice(-4), customerId: 'cust-' + pan.slice(-4), balanceId: bal.id, configId: DEMO,
    currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0,
  });
  return { ledger, balanceId: bal.id };
}

function auth(stan: string, amountMinor: number, over: IsoJson = {}): IsoJson {
  return {
    0: '0100', 2: PAN, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    12: '101500', 13: '1125', 14: EXP, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(23) + 'WARSAW'.padEnd(14) + 'POL', 49: '978', ...over,
  } as IsoJson;
}

function reversal(stan: string, orig: IsoJson, newAmountMinor?: number): IsoJson {
  const f90 = '0100' + orig['11'] + orig['7'] + (orig['32'] ?? '').padStart(11, '0') + '00000000000';
  const r: IsoJson = { ...orig, 0: '0400', 11: stan, 90: f90 } as IsoJson;
  if (newAmountMinor !== undefined) r['95'] = String(newAmountMinor).padStart(12, '0') + '0'.repeat(30);
  return r;
}

t.test('0100 / 0400 against the ledger, default dialect', async (t) => {
  const s = await startTestSwitch(t, { placement: 'workers' });
  const { ledger, balanceId } = await seed(s, PAN, 10_000, 1_000_000);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  const balance = async () => { const b = await ledger.getUserBalance(balanceId); return [b?.availableMinor, b?.blockedMinor]; };

  const a1 = auth('000001', 2_500);
  const r1 = await c.request(a1);
  t.equal(r1['0'], '0110');
  t.equal(r1['39'], '00', 'approved');
  t.match(r1['38'], /^[0-9A-Z]{6}$/, 'authorization id set');
  for (const f of ['2', '3', '4', '7', '11', '32', '37', '41', '42', '49']) t.equal(r1[f], a1[f], `field ${f} echoed`);
  t.same(await balance(), [7_500, 2_500], 'held');
  t.equal(r1['54'], '0001978C000000010000' + '0002978C000000007500', 'field 54: ledger and available');

  const r2 = await c.request(auth('000002', 9_000));
  t.equal(r2['39'], '51', 'declined for insufficient funds');
  t.equal(r2['38'], undefined, 'no authorization id on a decline');
  t.same(await balance(), [7_500, 2_500], 'nothing held for the decline');

  const rep = await c.request({ ...a1, 0: '0101' } as IsoJson);
  t.equal(rep['39'], '00', 'a repeat is answered like the original');
  t.equal(rep['38'], r1['38'], 'with the same authorization id');
  t.same(await balance(), [7_500, 2_500], 'and holds nothing twice');

  const rv = await c.request(reversal('000003', a1));
  t.equal(rv['0'], '0410');
  t.equal(rv['39'], '00');
  t.same(await balance(), [10_000, 0], 'reversal released the hold');
  const rv2 = await c.request(reversal('000004', a1));
  t.equal(rv2['39'], '00', 'a second reversal is acknowledged');
  t.same(await balance(), [10_000, 0], 'and moves nothing');

  const a3 = auth('000005', 4_000);
  t.equal((await c.request(a3))['39'], '00');
  t.equal((await c.request(reversal('000006', a3, 1_000)))['39'], '00', 'partial reversal');
  t.same(await balance(), [9_000, 1_000], 'partial reversal released the difference');
  const tx = await ledger.getTransaction(balanceId, `card-0018.010.${a3['7']}.${a3['11']}.${'123456'.padStart(11, '0')}.TERM0001`);
  t.equal(tx?.status, 'AUTHORIZED');

  t.equal((await c.request(auth('000007', 0, { 3: '010000' })))['39'], '13', 'zero amount outside an inquiry or account verification: invalid amount');
  t.equal((await c.request(auth('000008', 0)))['39'], '85', 'zero-amount purchase: account verified');
  t.equal((await c.request(auth('000008', 100, { 2: '5557709999999999' } as IsoJson)))['39'], '14', 'unknown card');
  t.equal((await c.request(auth('000009', 100, { 14: '2901' } as IsoJson)))['39'], '54', 'wrong expiry');
  t.equal((await c.request(auth('000010', 100, { 49: '840' } as IsoJson)))['39'], '57', 'currency without a balance');
  t.equal((await c.request(auth('000011', 100, { 3: '990000' } as IsoJson)))['39'], '12', 'unknown processing code');
  t.same(await balance(), [9_000, 1_000], 'declines move nothing');
  t.equal(await ledgerSound(s), 'sound', 'ledger check passes');
});

t.test('the 2003 dialect answers action codes in an n4 field 39', async (t) => {
  const s = await startTestSwitch(t, { placement: 'workers', env: { ISO_DIALECT: '2003' } });
  await seed(s, PAN, 5_000, null);
  const n4 = { 39: { ContentType: 'n', Label: 'Response code', LenType: 'fixed', MaxLen: 4 } };
  const c = await IsoClient.connect(s.app.isoPort, n4);
  t.teardown(() => c.close());
  t.equal((await c.request(auth('000101', 1_000)))['39'], '0000');
  t.equal((await c.request(auth('000102', 9_000)))['39'], '1016');
  t.equal((await c.request(auth('000103', 100, { 2: '5557709999999999' } as IsoJson)))['39'], '1011');
  t.equal(await ledgerSound(s), 'sound', 'ledger check passes');
});

t.test('a hold that is never cleared expires: released, status EXPIRED, a late reversal moves nothing', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-programs-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const programs = join(dir, 'programs.json');
  // Holds of this program expire at once, so the sweeper (every 100 ms here) releases them.
  writeFileSync(programs, JSON.stringify([{ configId: DEMO, bin: '555770', currency: 'EUR', mode: 'INTERNAL', depositRequired: false, creditRequired: false, holdExpiryDays: 0, holdExpiryDaysByMcc: {} }]));
  const s = await startTestSwitch(t, { placement: 'workers', env: { PROGRAMS_FILE: programs, SWEEP_INTERVAL_MS: '100' } });
  const { ledger, balanceId } = await seed(s, PAN, 5_000, null);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  const a = auth('000201', 1_500);
  t.equal((await c.request(a))['39'], '00');
  const txId = `card-0018.010.${a['7']}.${a['11']}.${'123456'.padStart(11, '0')}.TERM0001`;
  let status = '';
  for (let i = 0; i < 100 && status !== 'EXPIRED'; i++) {
    status = (await ledger.getTransaction(balanceId, txId))?.status ?? '';
    if (status !== 'EXPIRED') await new Promise((r) => setTimeout(r, 50));
  }
  t.equal(status, 'EXPIRED', 'transaction expired');
  const b = await ledger.getUserBalance(balanceId);
  t.same([b?.availableMinor, b?.blockedMinor], [5_000, 0], 'hold released');
  t.equal((await c.request(reversal('000202', a)))['39'], '00', 'a reversal after expiry is acknowledged');
  const b2 = await ledger.getUserBalance(balanceId);
  t.same([b2?.availableMinor, b2?.blockedMinor], [5_000, 0], 'and moves nothing');
  t.equal(await ledgerSound(s), 'sound', 'ledger check passes');
});

t.test('the main-thread placement decides the same way', async (t) => {
  const s = await startTestSwitch(t, { placement: 'main' });
  const { ledger, balanceId } = await seed(s, PAN, 3_000, null);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  const a = auth('000301', 1_000);
  const r = await c.request(a);
  t.equal(r['39'], '00');
  t.equal((await c.request(auth('000302', 5_000)))['39'], '51');
  t.equal((await c.request(reversal('000303', a)))['39'], '00');
  const b = await ledger.getUserBalance(balanceId);
  t.same([b?.availableMinor, b?.blockedMinor], [3_000, 0]);
  t.equal(await ledgerSound(s), 'sound', 'ledger check passes');
});

t.test('an original and its reversal pipelined in one write reach the ledger in order', async (t) => {
  const s = await startTestSwitch(t, { placement: 'workers' });
  const { ledger, balanceId } = await seed(s, PAN, 10_000, null);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  for (let k = 0; k < 20; k++) {
    const a = auth(String(500000 + 2 * k), 300);
    const rv = reversal(String(500001 + 2 * k), a);
    const waits = [c.expect(a['11'] as string), c.expect(rv['11'] as string)];
    c.writeRaw(Buffer.concat([c.pack(a), c.pack(rv)]));
    const [ra, rr] = await Promise.all(waits);
    t.equal(ra?.['39'], '00');
    t.equal(rr?.['39'], '00');
    const tx = await ledger.getTransaction(balanceId, `card-0018.010.${a['7']}.${a['11']}.${'123456'.padStart(11, '0')}.TERM0001`);
    if (tx?.status !== 'REVERSED') { t.fail(`round ${k}: the authorization was ${tx?.status ?? 'missing'} after its reversal`); break; }
  }
  const b = await ledger.getUserBalance(balanceId);
  t.same([b?.availableMinor, b?.blockedMinor], [10_000, 0], 'every hold released by its reversal');
  t.equal(await ledgerSound(s), 'sound', 'ledger check passes');
});

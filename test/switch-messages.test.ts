// Every row of the SPEC §2.2 message table and every processing code, end to end: requests sent
// by the iso_8583 package over a real socket, decided against a real Redis ledger. Each scenario
// uses a card of its own and ends with the ledger checker.
import t from 'tap';
import type { Test } from 'tap';
import { startTestSwitch, type TestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { checkLedger, formatReport } from '../ledger/check.js';

const EXP = '3012';
const DEMO = '0019167984';
const F7 = '1125101500';
const ACQ = '123456';
const ECHOED = ['2', '3', '4', '7', '11', '32', '37', '41', '42', '49'];

interface Card { pan: string; cardId: string; balanceId: string }

interface World { s: TestSwitch; c: IsoClient; ledger: Ledger; cards: CardStore; depositId: string }

async function startWorld(t: Test): Promise<World> {
  const s = await startTestSwitch(t);
  const ledger = await Ledger.open(s.redis.client);
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
  await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 10_000_000, idempotencyKey: 'dep-reload' });
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  return { s, c, ledger, cards: CardStore.fromSecrets(s.redis.client, s.app.secrets), depositId: dep.balance.id };
}

/** A card of its own for one scenario: PAN 55577000000<n:5>, topped up with topUpMinor, locked with lock. */
async function newCard(w: World, n: number, topUpMinor: number, lock = 0): Promise<Card> {
  const pan = '55577000000' + String(n).padStart(5, '0');
  const cardId = 'card-' + n;
  const bal = await w.ledger.createUserBalance({ customerId: 'cust-' + n, currency: 'EUR', configId: DEMO });
  if (topUpMinor > 0) {
    const r = await w.ledger.post({ type: 'TOPUP', idempotencyKey: 'seed-' + n, txId: 'seed-' + n, balanceId: bal.id, amountMinor: topUpMinor, partnerId: null });
    if (!r.ok) throw new Error('top-up failed: ' + r.reason);
  }
  await w.cards.put(pan, { id: cardId, customerId: 'cust-' + n, balanceId: bal.id, configId: DEMO, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock });
  return { pan, cardId, balanceId: bal.id };
}

function msg(mti: string, card: Card, stan: string, proc: string, amountMinor: number, over: Record<string, string> = {}): IsoJson {
  return {
    0: mti, 2: card.pan, 3: proc + '0000', 4: String(amountMinor).padStart(12, '0'), 7: F7, 11: stan,
    12: '101500', 13: '1125', 14: EXP, 18: '5411', 22: '051', 32: ACQ, 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(23) + 'WARSAW'.padEnd(14) + 'POL', 49: '978', ...over,
  } as IsoJson;
}

/** Field 90 naming `orig` (original MTI, STAN, field 7, acquirer n11, forwarder n11). */
function f90(orig: IsoJson): string {
  return (orig['0'] ?? '0100') + orig['11'] + orig['7'] + (orig['32'] ?? '').padStart(11, '0') + '0'.repeat(11);
}

/** MTI class of the request a message is or answers (0110 → 010): the transaction id's second part. */
function requestClass(mti: string): string {
  return mti.slice(0, 2) + String(Number(mti[2]) & ~1);
}

function txIdOf(card: Card, m: IsoJson): string {
  return `${card.cardId}.${requestClass(String(m['0'] ?? '0100'))}.${m['7']}.${m['11']}.${(m['32'] ?? '').padStart(11, '0')}.${String(m['41'] ?? '').trimEnd().replace(/ /g, '_')}`;
}

function field54(ledgerMinor: number, availableMinor: number): string {
  const e = (type: string, n: number) => '00' + type + '978' + (n < 0 ? 'D' : 'C') + String(Math.abs(n)).padStart(12, '0');
  return e('01', ledgerMinor) + e('02', availableMinor);
}

async function balance(w: World, card: Card): Promise<[number | undefined, number | undefined]> {
  const b = await w.ledger.getUserBalance(card.balanceId);
  return [b?.availableMinor, b?.blockedMinor];
}

function echoed(t: Test, req: IsoJson, res: IsoJson): void {
  for (const f of ECHOED) t.equal(res[f], req[f], `field ${f} echoed`);
}

/** One scenario: a subtest that ends with the ledger checker over the whole Redis. */
function scenario(parent: Test, w: () => World, name: string, body: (t: Test, w: World) => Promise<void>): Promise<unknown> {
  return parent.test(name, async (t) => {
    await body(t, w());
    const report = await checkLedger(w().s.redis.client, w().s.app.history.reads);
    t.ok(report.ok, 'ledger check passes', report.ok ? {} : { report: formatReport(report) });
  });
}

t.test('messages and processing codes', async (t) => {
  const world = await startWorld(t);
  const w = () => world;

  await scenario(t, w, '0200 financial request: approved and posted at once, then 51', async (t, w) => {
    const card = await newCard(w, 1, 10_000);
    const req = msg('0200', card, '000101', '00', 2_500);
    const r = await w.c.request(req);
    t.equal(r['0'], '0210');
    t.equal(r['39'], '00');
    echoed(t, req, r);
    t.match(r['38'], /^[0-9A-Z]{6}$/, 'authorization id');
    t.equal(r['54'], field54(7_500, 7_500), 'field 54 after the posting');
    t.same(await balance(w, card), [7_500, 0], 'posted, nothing held');
    t.equal((await w.ledger.getTransaction(card.balanceId, txIdOf(card, req)))?.status, 'CLEARED');
    const rep = await w.c.request({ ...req, 0: '0201' });
    t.equal(rep['0'], '0210');
    t.equal(rep['39'], '00', 'a repeat 0201 is answered like the original');
    t.equal(rep['38'], r['38']);
    t.equal(rep['54'], r['54']);
    t.same(await balance(w, card), [7_500, 0], 'and posts nothing twice');
    const big = await w.c.request(msg('0200', card, '000102', '00', 9_000));
    t.equal(big['39'], '51', 'insufficient funds');
    t.equal(big['38'], undefined);
    t.same(await balance(w, card), [7_500, 0], 'a decline posts nothing');
  });

  await scenario(t, w, '0120 authorization advice: a forced hold, over the funds; answered 00', async (t, w) => {
    const card = await newCard(w, 2, 1_000);
    const req = msg('0120', card, '000201', '00', 1_500);
    const r = await w.c.request(req);
    t.equal(r['0'], '0130');
    t.equal(r['39'], '00', 'never declined');
    echoed(t, req, r);
    t.same(await balance(w, card), [-500, 1_500], 'held although the funds did not cover it');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, req));
    t.equal(tx?.status, 'AUTHORIZED');
    t.equal(tx?.forced, true);
    const rep = await w.c.request({ ...req, 0: '0121' });
    t.equal(rep['0'], '0130');
    t.equal(rep['39'], '00', 'a repeat 0121 is acknowledged');
    t.same(await balance(w, card), [-500, 1_500], 'and holds nothing twice');
    const locked = await newCard(w, 3, 1_000, 2);
    t.equal((await w.c.request(msg('0120', locked, '000202', '00', 300)))['39'], '00', 'a locked card: still 00');
    t.same(await balance(w, locked), [700, 300], 'and held');
    const unknown = { pan: '5557709999999999', cardId: 'none', balanceId: 'none' };
    const u = await w.c.request(msg('0120', unknown, '000203', '00', 300));
    t.equal(u['39'], '00', 'an unknown card: acknowledged 00');
    t.equal(u['2'], unknown.pan);
  });

  // Clearing an authorization of 4,000 for: [amount, balance after (available, blocked), cleared from hold].
  const clearings: Array<[string, number, [number, number]]> = [
    ['equal', 4_000, [6_000, 0]],
    ['less: the rest released', 3_000, [7_000, 0]],
    ['more: the excess forced', 4_500, [5_500, 0]],
  ];
  let n = 10;
  for (const [name, clearMinor, after] of clearings) {
    const cardNo = n++;
    await scenario(t, w, `0100 then 0220 clearing ${name}`, async (t, w) => {
      const card = await newCard(w, cardNo, 10_000);
      const auth = msg('0100', card, '000301', '00', 4_000);
      t.equal((await w.c.request(auth))['39'], '00');
      t.same(await balance(w, card), [6_000, 4_000], 'held');
      const req = msg('0220', card, '000302', '00', clearMinor, { 7: '1126101500', 90: f90(auth) });
      const r = await w.c.request(req);
      t.equal(r['0'], '0230');
      t.equal(r['39'], '00');
      echoed(t, req, r);
      t.same(await balance(w, card), after, 'cleared');
      const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
      t.equal(tx?.status, 'CLEARED');
      t.equal(tx?.clearedMinor, clearMinor);
      t.equal((await w.c.request({ ...req, 0: '0221' }))['39'], '00', 'a repeat 0221 is acknowledged');
      t.same(await balance(w, card), after, 'and clears nothing twice');
    });
  }

  await scenario(t, w, '0220 without an original: a forced post, even over the funds', async (t, w) => {
    const card = await newCard(w, 20, 1_000);
    const req = msg('0220', card, '000401', '00', 1_200);
    const r = await w.c.request(req);
    t.equal(r['0'], '0230');
    t.equal(r['39'], '00');
    echoed(t, req, r);
    t.same(await balance(w, card), [-200, 0], 'posted');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, req));
    t.equal(tx?.status, 'CLEARED');
    t.equal(tx?.forced, true);
    t.equal((await w.c.request({ ...req, 0: '0221' }))['39'], '00');
    t.same(await balance(w, card), [-200, 0], 'a repeat posts nothing twice');
    // Field 90 naming an authorization the switch never saw: an offline transaction, posted.
    const ghost = msg('0100', card, '000499', '00', 100);
    t.equal((await w.c.request(msg('0220', card, '000402', '00', 300, { 90: f90(ghost) })))['39'], '00');
    t.same(await balance(w, card), [-500, 0], 'an unknown original: forced post');
  });

  await scenario(t, w, 'refund (20) in an 0100: approved, nothing moves; credited when its 0220 clears', async (t, w) => {
    const card = await newCard(w, 30, 1_000);
    const auth = msg('0100', card, '000501', '20', 700);
    const r = await w.c.request(auth);
    t.equal(r['0'], '0110');
    t.equal(r['39'], '00');
    echoed(t, auth, r);
    t.match(r['38'], /^[0-9A-Z]{6}$/);
    t.equal(r['54'], field54(1_000, 1_000));
    t.same(await balance(w, card), [1_000, 0], 'nothing held or credited yet');
    const clr = msg('0220', card, '000502', '20', 700, { 7: '1126101500', 90: f90(auth) });
    t.equal((await w.c.request(clr))['39'], '00');
    t.same(await balance(w, card), [1_700, 0], 'credited at clearing');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
    t.equal(tx?.type, 'REFUND', 'recorded under the refund authorization');
    t.equal(tx?.status, 'CLEARED');
    t.equal((await w.c.request({ ...clr, 0: '0221' }))['39'], '00');
    t.same(await balance(w, card), [1_700, 0], 'a repeat credits nothing twice');
    t.equal((await w.c.request(msg('0220', card, '000503', '20', 250)))['39'], '00', '0220 refund without an original');
    t.same(await balance(w, card), [1_950, 0], 'posted at once');
  });

  await scenario(t, w, 'refund (20) and payment credit (28) in an 0200, payment credit in an 0100: posted at once', async (t, w) => {
    const card = await newCard(w, 31, 1_000);
    const rows: Array<[string, string, number, string]> = [
      ['0200', '20', 300, 'REFUND'], ['0200', '28', 400, 'PAYMENT_CREDIT'], ['0100', '28', 500, 'PAYMENT_CREDIT'],
    ];
    let available = 1_000;
    let stan = 601;
    for (const [mti, proc, amount, type] of rows) {
      const req = msg(mti, card, String(stan++).padStart(6, '0'), proc, amount);
      const r = await w.c.request(req);
      available += amount;
      t.equal(r['39'], '00', `${mti} ${proc} approved`);
      echoed(t, req, r);
      t.match(r['38'], /^[0-9A-Z]{6}$/);
      t.equal(r['54'], field54(available, available), 'field 54 after the credit');
      const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, req));
      t.same([tx?.type, tx?.status], [type, 'CLEARED']);
      const rep = await w.c.request({ ...req, 0: mti.slice(0, 3) + '1' });
      t.equal(rep['38'], r['38'], 'a repeat gets the same answer');
    }
    t.same(await balance(w, card), [available, 0], 'each credit posted once');
  });

  await scenario(t, w, 'credits to locked cards: lock 1, 2, 5, 8 declined with the lock reason, others approved', async (t, w) => {
    const rows: Array<[number, string]> = [[1, '41'], [2, '43'], [5, '56'], [8, '14'], [3, '00'], [7, '00']];
    let n = 40;
    for (const [lock, code] of rows) {
      const card = await newCard(w, n++, 1_000, lock);
      for (const [mti, proc] of [['0100', '28'], ['0200', '20']] as const) {
        const r = await w.c.request(msg(mti, card, String(n * 10 + Number(proc)).padStart(6, '0'), proc, 100));
        t.equal(r['39'], code, `${mti} ${proc} to a card with lock ${lock}`);
      }
      t.same(await balance(w, card), [code === '00' ? 1_200 : 1_000, 0]);
      // A debit is stopped by every lock.
      t.not((await w.c.request(msg('0200', card, String(n * 10 + 1).padStart(6, '0'), '00', 100)))['39'], '00');
    }
  });

  await scenario(t, w, 'balance inquiry (30): 00 with field 54, zero amount allowed, no money moves', async (t, w) => {
    const card = await newCard(w, 50, 2_000);
    t.equal((await w.c.request(msg('0100', card, '000701', '00', 500)))['39'], '00');
    for (const [mti, stan, amount] of [['0100', '000702', 0], ['0200', '000703', 0], ['0100', '000704', 100]] as const) {
      const req = msg(mti, card, stan, '30', amount);
      const r = await w.c.request(req);
      t.equal(r['39'], '00', `${mti} inquiry answered 00`);
      echoed(t, req, r);
      t.equal(r['54'], field54(2_000, 1_500), 'ledger and available amounts');
    }
    t.same(await balance(w, card), [1_500, 500], 'nothing moved');
    t.equal((await w.c.request(msg('0100', card, '000705', '01', 0)))['39'], '13', 'zero amount outside an inquiry or an account verification');
    t.equal((await w.c.request(msg('0200', card, '000706', '20', 0)))['39'], '13');
    t.equal((await w.c.request(msg('0200', card, '000707', '99', 100)))['39'], '12', 'unknown processing code');
    t.equal((await w.c.request(msg('0100', card, '000708', '40', 100)))['39'], '12');
    const locked = await newCard(w, 51, 100, 7);
    t.equal((await w.c.request(msg('0100', locked, '000709', '30', 0)))['39'], '59', 'an inquiry on a locked card is declined');
  });
});

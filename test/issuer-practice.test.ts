// Issuer practice over the wire, in both dialects (docs/messages.md): incremental authorization,
// completion advices, partial approval, spend controls with shadow mode, network management codes.
// Each situation is what a processor peer replays from public reports; the ledger checker runs
// after each.
import t from 'tap';
import {
  assertLedgerSound, balance, f90, msg, newCard, send, startWorld, type DialectName, type IsoJson, type World,
} from './helpers/e2e.js';
import { TransactionRecords } from '../stores/records.js';
import type { SpendControl } from '../stores/controls.js';

const CODES: Record<DialectName, Record<string, string>> = {
  '1987': { ok: '00', partial: '10', funds: '51', notPermitted: '57', count: '65', amount: '61', unknown: '12' },
  '2003': { ok: '0000', partial: '0002', funds: '1016', notPermitted: '1019', count: '1023', amount: '1021', unknown: '1015' },
};

/** Field 48 with subelement 61 (POS extended conditions) position 1 `1`: the terminal accepts a partial approval. */
const ACCEPTS_PARTIAL = '6101' + '1';

async function recordOf(w: World, cardId: string, stan: string): Promise<Record<string, unknown> | undefined> {
  const records = new TransactionRecords(w.s.redis.client, w.ledger);
  const items = (await records.list({ cardId, limit: 200 })).items;
  return items.find((r) => r.transactionData.retrievalReferenceNumber === `RRN${stan}000`) as Record<string, unknown> | undefined;
}

for (const dialect of ['1987', '2003'] as const) {
  t.test(`issuer practice, ${dialect}`, async (t) => {
    const w = await startWorld(t, dialect);
    const C = CODES[dialect];

    await t.test('a hotel: pre-authorization, an increment, a clearing for the total: held once, posted once', async (t) => {
      const card = await newCard(w, 1, { topUpMinor: 30_000 });
      const pre = msg('0100', card, '000001', '00', 10_000, { 18: '7011' });
      const first = (await send(w, pre)).res;
      t.equal(first['39'], C.ok);
      const inc = msg('0100', card, '000002', '00', 5_000, { 18: '7011', 90: f90(pre) });
      const second = (await send(w, inc)).res;
      t.equal(second['39'], C.ok, 'the increment is approved');
      t.equal(second['38'], first['38'], 'with the original\'s authorization id (field 38)');
      t.same(await balance(w, card), [15_000, 15_000], 'one transaction holds 150.00');
      const clearing = msg('0220', card, '000003', '00', 15_000, { 18: '7011', 90: f90(pre), 38: String(first['38']) });
      t.equal((await send(w, clearing)).res['39'], C.ok);
      t.same(await balance(w, card), [15_000, 0], 'cleared for the total: nothing left held beside it');
      await assertLedgerSound(t, w);
    });

    await t.test('an increment declined for funds leaves the original as it was', async (t) => {
      const card = await newCard(w, 2, { topUpMinor: 12_000 });
      const pre = msg('0100', card, '000010', '00', 10_000);
      t.equal((await send(w, pre)).res['39'], C.ok);
      const inc = msg('0100', card, '000011', '00', 5_000, { 90: f90(pre) });
      t.equal((await send(w, inc)).res['39'], C.funds, 'declined: insufficient funds');
      t.same(await balance(w, card), [2_000, 10_000], 'the original still holds 100.00, no more');
      await assertLedgerSound(t, w);
    });

    await t.test('a reversal of the increment gives back the increment only; a full reversal of the original everything still held', async (t) => {
      const card = await newCard(w, 3, { topUpMinor: 30_000 });
      const pre = msg('0100', card, '000020', '00', 10_000);
      t.equal((await send(w, pre)).res['39'], C.ok);
      const inc = msg('0100', card, '000021', '00', 4_000, { 90: f90(pre) });
      t.equal((await send(w, inc)).res['39'], C.ok);
      t.same(await balance(w, card), [16_000, 14_000]);
      t.equal((await send(w, msg('0400', card, '000022', '00', 4_000, { 90: f90(inc) }))).res['39'], C.ok);
      t.same(await balance(w, card), [20_000, 10_000], 'the increment\'s 40.00 given back, the original\'s 100.00 still held');
      t.equal((await send(w, msg('0400', card, '000023', '00', 10_000, { 90: f90(pre) }))).res['39'], C.ok);
      t.same(await balance(w, card), [30_000, 0], 'the full reversal gives back the rest');
      await assertLedgerSound(t, w);
    });

    await t.test('a fuel pump: a pre-authorization completed for less by an 0120 holds the completion once', async (t) => {
      const card = await newCard(w, 4, { topUpMinor: 20_000 });
      const pre = msg('0100', card, '000030', '00', 10_000, { 18: '5542' });
      const first = (await send(w, pre)).res;
      t.equal(first['39'], C.ok);
      const completion = msg('0120', card, '000031', '00', 6_500, { 18: '5542', 90: f90(pre) });
      t.equal((await send(w, completion)).res['39'], C.ok);
      t.same(await balance(w, card), [13_500, 6_500], '65.00 held, not 165.00');
      t.equal((await send(w, msg('0220', card, '000032', '00', 6_500, { 18: '5542', 90: f90(pre), 38: String(first['38']) }))).res['39'], C.ok);
      t.same(await balance(w, card), [13_500, 0], 'the clearing posts 65.00 once');
      await assertLedgerSound(t, w);
    });

    await t.test('network management: only sign-on, sign-off and echo are acknowledged', async (t) => {
      const nm = (stan: string, f70?: string): IsoJson => ({ 0: '0800', 7: '1207101500', 11: stan, ...(f70 === undefined ? {} : { 70: f70 }) } as IsoJson);
      for (const [stan, code] of [['000041', '001'], ['000042', '002'], ['000043', '301']] as const) {
        const r = (await send(w, nm(stan, code))).res;
        t.equal(r['39'], C.ok, `field 70 ${code}: acknowledged`);
        t.equal(r['70'], code, 'field 70 echoed');
      }
      t.equal((await send(w, nm('000044', '161'))).res['39'], C.unknown, 'a key change the switch does not do: not acknowledged');
      t.equal((await send(w, nm('000045', '999'))).res['39'], C.unknown, 'an unknown code');
      t.equal((await send(w, nm('000046'))).res['39'], C.unknown, 'no field 70');
    });

    await t.test('partial approval: what the funds cover, at a terminal that accepts it, for a purchase only', async (t) => {
      const card = await newCard(w, 5, { topUpMinor: 3_000 });
      const buy = msg('0100', card, '000050', '00', 5_000, { 48: ACCEPTS_PARTIAL });
      const r = (await send(w, buy)).res;
      t.equal(r['39'], C.partial, 'approved in part');
      t.equal(r['4'], '000000003000', 'field 4: the amount approved');
      t.ok(typeof r['38'] === 'string' && r['38'].length === 6, 'an authorization id');
      t.match(String(r['54']), /0057978C000000005000$/, 'field 54: the amount asked for, amount type 57');
      t.same(await balance(w, card), [0, 3_000], '30.00 held');
      const rec = await recordOf(w, card.cardId, '000050');
      t.match(rec, { amount: 3_000, reason: 'PARTIAL_APPROVAL', processingStatus: 'SUCCESS' }, 'the record shows the amount approved');
      t.equal((await send(w, msg('0220', card, '000051', '00', 3_000, { 90: f90(buy), 38: String(r['38']) }))).res['39'], C.ok, 'cleared for what was approved');

      const other = await newCard(w, 6, { topUpMinor: 3_000 });
      t.equal((await send(w, msg('0100', other, '000052', '00', 5_000))).res['39'], C.funds, 'without 48.61: declined');
      t.equal((await send(w, msg('0100', other, '000053', '01', 5_000, { 48: ACCEPTS_PARTIAL }))).res['39'], C.funds, 'cash: never in part');
      t.equal((await send(w, msg('0100', other, '000054', '09', 5_000, { 48: ACCEPTS_PARTIAL }))).res['39'], C.funds, 'cashback: never in part');
      t.equal((await send(w, msg('0200', other, '000055', '00', 5_000, { 48: ACCEPTS_PARTIAL }))).res['39'], C.partial, 'an 0200 purchase: in part, posted');
      t.same(await balance(w, other), [0, 0], '30.00 posted at once');
      const empty = await newCard(w, 7, { topUpMinor: 0 });
      t.equal((await send(w, msg('0100', empty, '000056', '00', 5_000, { 48: ACCEPTS_PARTIAL }))).res['39'], C.funds, 'nothing to cover: declined, never below one minor unit');

      // In another currency: 100.00 PLN at 0.23 EUR (23.00 EUR and a 1% FX fee of 0.23) on 20.00 EUR.
      const fx = await newCard(w, 90, { program: 'FX', topUpMinor: 2_000 });
      const abroad = msg('0100', fx, '000057', '00', 10_000, { 48: ACCEPTS_PARTIAL, 49: '985' });
      const a = (await send(w, abroad)).res;
      t.equal(a['39'], C.partial, 'in PLN on an EUR balance: approved in part');
      t.equal(a['4'], '000000008615', 'field 4: 86.15 PLN, the most whose 19.81 EUR and 0.19 FX fee fit in 20.00');
      t.equal(a['49'], '985', 'field 49 as sent');
      t.match(String(a['54']), /0057985C000000010000$/, 'field 54: the 100.00 PLN asked for, in PLN');
      t.same(await balance(w, fx), [0, 2_000], 'the whole 20.00 EUR held: amount and FX fee');
      t.match(await recordOf(w, fx.cardId, '000057'), { amount: 1_981, currency: 'EUR', originalAmount: 8_615, originalCurrency: 'PLN', reason: 'PARTIAL_APPROVAL' }, 'the record: held in EUR, approved in PLN');
      t.equal((await send(w, msg('0220', fx, '000058', '00', 8_615, { 49: '985', 90: f90(abroad), 38: String(a['38']) }))).res['39'], C.ok, 'cleared for what was approved, in PLN');
      t.same(await balance(w, fx), [0, 0], 'posted: nothing left, nothing owed');
      await assertLedgerSound(t, w);
    });

    await t.test('spend controls: blocked categories decline 57, a shadow rule declines nothing and is recorded, promotion takes effect at once', async (t) => {
      const card = await newCard(w, 8, { topUpMinor: 50_000 });
      const block: SpendControl[] = [{ id: 'no-gambling', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995', '7800-7802'] }];
      await w.cards.setControls(card.cardId, block);
      t.equal((await send(w, msg('0100', card, '000060', '00', 1_000, { 18: '7995' }))).res['39'], C.notPermitted, 'MCC 7995 blocked');
      t.equal((await send(w, msg('0100', card, '000061', '00', 1_000, { 18: '7801' }))).res['39'], C.notPermitted, 'a range');
      t.equal((await send(w, msg('0100', card, '000062', '00', 1_000, { 18: '5411' }))).res['39'], C.ok, 'another category passes');

      await w.cards.setControls(card.cardId, [{ id: 'no-poland', mode: 'SHADOW', type: 'COUNTRY_BLOCK', values: ['POL'] }]);
      t.equal((await send(w, msg('0100', card, '000063', '00', 1_000))).res['39'], C.ok, 'shadow: approved');
      t.match(await recordOf(w, card.cardId, '000063'), { wouldDecline: { controlId: 'no-poland', reason: 'TRANSACTION_NOT_PERMITTED' } }, 'and recorded');
      t.equal((await recordOf(w, card.cardId, '000062'))?.wouldDecline, undefined, 'nothing recorded where no rule applied');
      await w.cards.setControls(card.cardId, [{ id: 'no-poland', mode: 'ENFORCED', type: 'COUNTRY_BLOCK', values: ['POL'] }]);
      t.equal((await send(w, msg('0100', card, '000064', '00', 1_000))).res['39'], C.notPermitted, 'promoted: the next authorization is declined');
      t.equal((await send(w, msg('0100', card, '000065', '00', 1_000, { 19: '276' }))).res['39'], C.ok, 'field 19 (276, DEU) wins over field 43');

      await w.cards.setControls(card.cardId, [{ id: 'three-a-day', mode: 'ENFORCED', type: 'VELOCITY', window: 'DAY', amount: null, count: 3, scope: 'PURCHASE' }]);
      const other = await newCard(w, 9, { topUpMinor: 50_000 });
      await w.cards.setControls(other.cardId, [{ id: 'three-a-day', mode: 'ENFORCED', type: 'VELOCITY', window: 'DAY', amount: null, count: 3, scope: 'PURCHASE' }]);
      for (const stan of ['000070', '000071', '000072']) t.equal((await send(w, msg('0100', other, stan, '00', 1_000))).res['39'], C.ok);
      t.equal((await send(w, msg('0100', other, '000073', '00', 1_000))).res['39'], C.count, 'the fourth purchase of the day: count limit');
      t.equal((await send(w, msg('0100', other, '000074', '01', 1_000))).res['39'], C.ok, 'cash is another scope');
      t.equal((await send(w, msg('0400', other, '000075', '00', 1_000, { 90: f90(msg('0100', other, '000072', '00', 1_000)) }))).res['39'], C.ok, 'a reversal gives the count back');
      t.equal((await send(w, msg('0100', other, '000076', '00', 1_000))).res['39'], C.ok, 'so a purchase fits again');
      await assertLedgerSound(t, w);
    });
  });
}

t.test('concurrent authorizations against a velocity limit approve exactly what it allows', async (t) => {
  const w = await startWorld(t, '1987');
  const card = await newCard(w, 1, { topUpMinor: 10_000_000 });
  await w.cards.setControls(card.cardId, [{ id: 'ten-a-day', mode: 'ENFORCED', type: 'VELOCITY', window: 'DAY', amount: 50_000, count: null, scope: 'ALL' }]);
  const n = 1_000;
  const answers = await Promise.all(Array.from({ length: n }, (_, i) => w.c.request(msg('0100', card, String(100_000 + i), '00', 100))));
  const approved = answers.filter((a) => a['39'] === '00').length;
  t.equal(approved, 500, '500 of 1,000 purchases of 1.00 fit a 500.00 daily amount');
  t.equal(answers.filter((a) => a['39'] === '61').length, 500, 'the rest are declined for the amount limit');
  t.same(await balance(w, card), [10_000_000 - 50_000, 50_000], 'exactly 500.00 held');
  await assertLedgerSound(t, w);
});

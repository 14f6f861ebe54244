// Sequences of messages about one transaction, end to end over a real socket (SPEC §2.3): partial
// reversal then clearing of the rest, clearing for more, a reversal before its authorization,
// duplicates (byte-for-byte the same answer, money moved once), two clearings of one
// authorization, matching by PAN + field 37 (+ 38) when field 90 does not name the original, hold
// expiry through the sweeper, an advice for an unknown card. Each sequence uses a card of its own
// and ends with the ledger invariant checker (npm run ledger:check).
import t from 'tap';
import {
  startWorld, newCard, msg, f90, f95, txIdOf, balance, send, scenario, UNKNOWN_CARD,
  type World, type IsoJson,
} from './helpers/e2e.js';

const CLEARING_F7 = { 7: '1126101500' };

async function deposit(w: World): Promise<[number, number]> {
  const d = await w.ledger.getPartnerBalance(w.demoDepositId);
  return [d?.availableMinor ?? NaN, d?.blockedMinor ?? NaN];
}

function reversalOf(orig: IsoJson, stan: string, over: Record<string, string> = {}): IsoJson {
  return { ...orig, 0: '0400', 11: stan, 90: f90(orig), ...over } as IsoJson;
}

t.test('SPEC §2.3 sequences, default dialect', async (t) => {
  // The sweeper runs every 100 ms, so a hold of the EXPIRY program with MCC 4121 (0 days) expires at once.
  const world = await startWorld(t, '1987', { SWEEP_INTERVAL_MS: '100' });
  const w = () => world;

  await scenario(t, w, 'auth 4,000 → partial reversal to 1,500 (field 95) → clearing of the rest (0220, field 90)', async (t, w) => {
    const card = await newCard(w, 1, { topUpMinor: 10_000 });
    const dep0 = await deposit(w);
    const auth = msg('0100', card, '000101', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    t.same(await balance(w, card), [6_000, 4_000], 'held');
    t.same(await deposit(w), [dep0[0] - 4_000, dep0[1] + 4_000], 'deposit held');
    const rev = await send(w, reversalOf(auth, '000102', { 95: f95(1_500) }));
    t.equal(rev.res['0'], '0410');
    t.equal(rev.res['39'], '00', 'partial reversal approved');
    t.same(await balance(w, card), [8_500, 1_500], 'the difference released');
    t.same(await deposit(w), [dep0[0] - 1_500, dep0[1] + 1_500], 'deposit released alike');
    const txAfterRev = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
    t.same([txAfterRev?.status, txAfterRev?.amountMinor], ['AUTHORIZED', 1_500], 'still authorized, for the new amount');
    const clr = await send(w, msg('0220', card, '000103', '00', 1_500, { ...CLEARING_F7, 90: f90(auth) }));
    t.equal(clr.res['0'], '0230');
    t.equal(clr.res['39'], '00');
    t.same(await balance(w, card), [8_500, 0], 'the rest cleared');
    t.same(await deposit(w), [dep0[0] - 1_500, dep0[1]], 'deposit consumed by the settled amount only');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
    t.same([tx?.status, tx?.clearedMinor], ['CLEARED', 1_500]);
  });

  await scenario(t, w, 'a second reversal of a partially reversed original moves nothing', async (t, w) => {
    const card = await newCard(w, 2, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '000201', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    t.equal((await send(w, reversalOf(auth, '000202', { 95: f95(1_500) }))).res['39'], '00');
    t.same(await balance(w, card), [8_500, 1_500], 'partial reversal released 2,500');
    const second = await send(w, reversalOf(auth, '000203'));
    t.equal(second.res['39'], '00', 'a second reversal is acknowledged');
    t.same(await balance(w, card), [8_500, 1_500], 'and moves nothing (SPEC §2.3)');
  });

  await scenario(t, w, 'auth 4,000 → clearing for 5,000: the excess force-posted', async (t, w) => {
    const card = await newCard(w, 3, { topUpMinor: 10_000 });
    const dep0 = await deposit(w);
    const auth = msg('0100', card, '000301', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    const clr = await send(w, msg('0220', card, '000302', '00', 5_000, { ...CLEARING_F7, 90: f90(auth) }));
    t.equal(clr.res['39'], '00');
    t.same(await balance(w, card), [5_000, 0], '4,000 from the hold and 1,000 forced');
    t.same(await deposit(w), [dep0[0] - 5_000, dep0[1]], 'deposit consumed by the whole cleared amount');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
    t.same([tx?.status, tx?.clearedMinor], ['CLEARED', 5_000]);
  });

  await scenario(t, w, 'a clearing for more than the funds: forced below zero', async (t, w) => {
    const card = await newCard(w, 4, { topUpMinor: 5_000 });
    const auth = msg('0100', card, '000401', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    t.equal((await send(w, msg('0220', card, '000402', '00', 6_000, { ...CLEARING_F7, 90: f90(auth) }))).res['39'], '00');
    t.same(await balance(w, card), [-1_000, 0], 'the excess is forced even below zero');
  });

  await scenario(t, w, 'a reversal before its authorization: answered 00 and remembered; the late 0100 is declined 05 and holds nothing', async (t, w) => {
    const card = await newCard(w, 5, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '000501', '00', 4_000);
    const rev = await send(w, reversalOf(auth, '000502'));
    t.equal(rev.res['0'], '0410');
    t.equal(rev.res['39'], '00', 'the orphan reversal is acknowledged');
    t.same(await balance(w, card), [10_000, 0], 'nothing moved');
    const late = await send(w, auth);
    t.equal(late.res['39'], '05', 'the original, arriving late, is declined 05');
    t.equal(late.res['38'], undefined, 'no authorization id');
    t.same(await balance(w, card), [10_000, 0], 'and holds nothing');
  });

  await scenario(t, w, 'duplicate 0100 (same MTI class, 2, 11, 7, 32, 41): byte-for-byte the same answer, money moved once', async (t, w) => {
    const card = await newCard(w, 6, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '000601', '00', 2_500);
    const first = await send(w, auth);
    t.equal(first.res['39'], '00');
    t.same(await balance(w, card), [7_500, 2_500]);
    const again = await send(w, auth);
    t.ok(again.raw.equals(first.raw), 'the same 0100 again: the same bytes');
    const repeat = await send(w, { ...auth, 0: '0101' });
    t.ok(repeat.raw.equals(first.raw), 'its 0101 repeat: the same bytes');
    // A later message about the same card changes the balance; a duplicate still gets the first answer.
    t.equal((await send(w, msg('0100', card, '000602', '00', 1_000))).res['39'], '00');
    const late = await send(w, auth);
    t.ok(late.raw.equals(first.raw), 'after another authorization: still the first answer, field 54 included');
    t.same(await balance(w, card), [6_500, 3_500], 'held once per authorization');
  });

  await scenario(t, w, 'duplicate 0200: byte-for-byte the same answer, posted once', async (t, w) => {
    const card = await newCard(w, 7, { topUpMinor: 10_000 });
    const fin = msg('0200', card, '000701', '00', 2_000);
    const first = await send(w, fin);
    t.equal(first.res['39'], '00');
    t.ok((await send(w, fin)).raw.equals(first.raw), 'the same 0200 again: the same bytes');
    t.ok((await send(w, { ...fin, 0: '0201' })).raw.equals(first.raw), 'its 0201 repeat: the same bytes');
    t.same(await balance(w, card), [8_000, 0], 'posted once');
  });

  await scenario(t, w, 'duplicate of a declined 0100 after the reason went away: still the first answer, nothing held', async (t, w) => {
    const card = await newCard(w, 8, { topUpMinor: 10_000, lock: 7 });
    const auth = msg('0100', card, '000801', '00', 1_000);
    const first = await send(w, auth);
    t.equal(first.res['39'], '59', 'suspected fraud');
    await w.cards.unlock(card.cardId);
    const again = await send(w, auth);
    t.equal(again.res['39'], '59', 'the duplicate is answered as the first');
    t.ok(again.raw.equals(first.raw), 'byte for byte');
    t.same(await balance(w, card), [10_000, 0], 'and holds nothing');
  });

  await scenario(t, w, 'duplicate of a declined 0100 (51) after a top-up: still 51, byte for byte, nothing held', async (t, w) => {
    const card = await newCard(w, 9, { topUpMinor: 1_000 });
    const auth = msg('0100', card, '000901', '00', 2_000);
    const first = await send(w, auth);
    t.equal(first.res['39'], '51');
    const top = await w.ledger.post({ type: 'TOPUP', idempotencyKey: 'late-top-9', txId: 'late-top-9', balanceId: card.balanceId, amountMinor: 5_000, partnerId: null });
    t.ok(top.ok, 'topped up');
    const again = await send(w, auth);
    t.ok(again.raw.equals(first.raw), 'the duplicate gets the first answer');
    t.same(await balance(w, card), [6_000, 0], 'nothing held');
  });

  await scenario(t, w, 'duplicate balance inquiry after the balance changed: byte for byte the first answer', async (t, w) => {
    const card = await newCard(w, 10, { topUpMinor: 3_000 });
    const inq = msg('0100', card, '001001', '30', 0);
    const first = await send(w, inq);
    t.equal(first.res['39'], '00');
    t.equal((await send(w, msg('0100', card, '001002', '00', 1_000))).res['39'], '00');
    const again = await send(w, inq);
    t.ok(again.raw.equals(first.raw), 'the duplicate inquiry is answered with the first bytes');
  });

  await scenario(t, w, 'not a duplicate: same 2, 11, 7, 32 but another terminal (41): a second authorization, held on its own', async (t, w) => {
    const card = await newCard(w, 18, { topUpMinor: 10_000 });
    const a1 = msg('0100', card, '001801', '00', 1_000, { 41: 'TERM0001' });
    const a2 = msg('0100', card, '001801', '00', 2_000, { 41: 'TERM0002' });
    const r1 = await send(w, a1);
    const r2 = await send(w, a2);
    t.equal(r1.res['39'], '00');
    t.equal(r2.res['39'], '00', 'the second terminal\'s authorization approved');
    t.equal(r2.res['4'], a2['4'], 'answered with its own amount');
    t.same(await balance(w, card), [7_000, 3_000], 'both held: an approval holds its own money (SPEC §3 invariant 3)');
  });

  await scenario(t, w, 'not a duplicate: an 0200 sharing 2, 11, 7, 32, 41 with an earlier 0100 (another MTI class) is posted on its own', async (t, w) => {
    const card = await newCard(w, 19, { topUpMinor: 10_000 });
    const a = msg('0100', card, '001901', '00', 1_000);
    const f = msg('0200', card, '001901', '00', 2_000);
    t.equal((await send(w, a)).res['39'], '00');
    const r = await send(w, f);
    t.equal(r.res['0'], '0210');
    t.equal(r.res['39'], '00', 'the 0200 approved');
    t.same(await balance(w, card), [7_000, 1_000], '1,000 held by the 0100, 2,000 posted by the 0200');
  });

  await scenario(t, w, 'a reversal of an authorization with a channel fee releases the fee too', async (t, w) => {
    const card = await newCard(w, 20, { program: 'FEES', topUpMinor: 20_000 });
    const auth = msg('0100', card, '002001', '00', 10_000);
    t.equal((await send(w, auth)).res['39'], '00');
    t.same(await balance(w, card), [9_850, 10_150], 'amount and fee (50 + 100 bps) held');
    const company0 = (await w.ledger.getPartnerBalance(w.feesCompanyId))?.availableMinor;
    t.equal((await send(w, reversalOf(auth, '002002'))).res['39'], '00');
    t.same(await balance(w, card), [20_000, 0], 'all released, fee included');
    t.equal((await w.ledger.getPartnerBalance(w.feesCompanyId))?.availableMinor, company0, 'no fee posted for a reversed authorization');
  });

  await scenario(t, w, 'a repeated 0401 moves nothing the second time and gets the same answer', async (t, w) => {
    const card = await newCard(w, 11, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '001101', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    const rev = reversalOf(auth, '001102', { 95: f95(1_000) });
    const first = await send(w, rev);
    t.equal(first.res['39'], '00');
    t.same(await balance(w, card), [9_000, 1_000], 'partial reversal released 3,000');
    const rep = await send(w, { ...rev, 0: '0401' });
    t.equal(rep.res['0'], '0410');
    t.equal(rep.res['39'], '00');
    t.ok(rep.raw.equals(first.raw), 'the 0401 gets the 0400\'s bytes');
    t.same(await balance(w, card), [9_000, 1_000], 'the repeat released nothing');
    t.equal((await send(w, { ...rev, 0: '0401' })).res['39'], '00');
    t.same(await balance(w, card), [9_000, 1_000], 'nor a third time');
  });

  await scenario(t, w, 'two clearings of one authorization: each posted once, nothing left held', async (t, w) => {
    const card = await newCard(w, 12, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '001201', '00', 4_000);
    t.equal((await send(w, auth)).res['39'], '00');
    const c1 = msg('0220', card, '001202', '00', 1_500, { ...CLEARING_F7, 90: f90(auth) });
    t.equal((await send(w, c1)).res['39'], '00');
    t.same(await balance(w, card), [8_500, 0], 'first clearing for less: 1,500 posted, the rest released');
    const c2 = msg('0220', card, '001203', '00', 1_000, { ...CLEARING_F7, 90: f90(auth) });
    t.equal((await send(w, c2)).res['39'], '00');
    t.same(await balance(w, card), [7_500, 0], 'second clearing: 1,000 more posted');
    t.equal((await send(w, { ...c2, 0: '0221' })).res['39'], '00');
    t.same(await balance(w, card), [7_500, 0], 'its repeat posts nothing');
    const tx = await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth));
    t.same([tx?.status, tx?.clearedMinor], ['CLEARED', 2_500], 'the authorization cleared for 2,500 in all');
  });

  await scenario(t, w, 'a reversal without field 90 finds its original by PAN + field 37', async (t, w) => {
    const card = await newCard(w, 13, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '001301', '00', 4_000, { 37: 'RRNPANONLY01' });
    t.equal((await send(w, auth)).res['39'], '00');
    const rev: IsoJson = { ...auth, 0: '0400', 11: '001302' };
    const r = await send(w, rev);
    t.equal(r.res['39'], '00', 'the reversal is approved');
    t.same(await balance(w, card), [10_000, 0], 'released');
    t.equal((await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth)))?.status, 'REVERSED', 'the original is REVERSED');
  });

  await scenario(t, w, 'a reversal whose field 90 names nothing known falls back to PAN + field 37 (one candidate)', async (t, w) => {
    const card = await newCard(w, 14, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '001401', '00', 4_000, { 37: 'RRNFALLBACK1' });
    t.equal((await send(w, auth)).res['39'], '00');
    const ghost = msg('0100', card, '001499', '00', 4_000);
    const r = await send(w, { ...auth, 0: '0400', 11: '001402', 90: f90(ghost) } as IsoJson);
    t.equal(r.res['39'], '00');
    t.same(await balance(w, card), [10_000, 0], 'the PAN + 37 match released');
    t.equal((await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth)))?.status, 'REVERSED', 'the original is REVERSED');
  });

  await scenario(t, w, 'a clearing without field 90 finds its original by PAN + field 37 + field 38', async (t, w) => {
    const card = await newCard(w, 15, { topUpMinor: 10_000 });
    const auth = msg('0100', card, '001501', '00', 4_000, { 37: 'RRNCLEAR0001' });
    const a = await send(w, auth);
    t.equal(a.res['39'], '00');
    const authId = a.res['38'] ?? '';
    const clr = msg('0220', card, '001502', '00', 4_000, { ...CLEARING_F7, 37: 'RRNCLEAR0001', 38: authId });
    t.equal((await send(w, clr)).res['39'], '00');
    t.same(await balance(w, card), [6_000, 0], 'the hold cleared, not a second (forced) posting');
    t.equal((await w.ledger.getTransaction(card.balanceId, txIdOf(card, auth)))?.status, 'CLEARED', 'the original is CLEARED');
  });

  await scenario(t, w, 'hold expiry through the sweeper: MCC 4121 (holdExpiryDaysByMcc 0) expires, MCC 5411 keeps 7 days', async (t, w) => {
    const card = await newCard(w, 16, { program: 'EXPIRY', topUpMinor: 5_000 });
    const shortHold = msg('0100', card, '001601', '00', 1_500, { 18: '4121' });
    const longHold = msg('0100', card, '001602', '00', 1_000, { 18: '5411' });
    t.equal((await send(w, shortHold)).res['39'], '00');
    t.equal((await send(w, longHold)).res['39'], '00');
    let status = '';
    for (let i = 0; i < 200 && status !== 'EXPIRED'; i++) {
      status = (await w.ledger.getTransaction(card.balanceId, txIdOf(card, shortHold)))?.status ?? '';
      if (status !== 'EXPIRED') await new Promise((r) => setTimeout(r, 50));
    }
    t.equal(status, 'EXPIRED', 'the MCC 4121 hold expired');
    t.same(await balance(w, card), [4_000, 1_000], 'its hold released, the other still held');
    const long = await w.ledger.getTransaction(card.balanceId, txIdOf(card, longHold));
    t.equal(long?.status, 'AUTHORIZED', 'the MCC 5411 hold is still open');
    t.equal((long?.expiresAtMs ?? 0) - (long?.createdAtMs ?? 0), 7 * 86_400_000, 'and expires after holdExpiryDays (7)');
    t.equal((await send(w, reversalOf(shortHold, '001603'))).res['39'], '00', 'a reversal after expiry is acknowledged');
    t.same(await balance(w, card), [4_000, 1_000], 'and moves nothing');
  });

  await scenario(t, w, 'an 0120 advice for an unknown card: answered 00, no money moves', async (t, w) => {
    const before = await w.ledger.summary();
    const r = await send(w, msg('0120', UNKNOWN_CARD, '001701', '00', 1_500));
    t.equal(r.res['0'], '0130');
    t.equal(r.res['39'], '00');
    t.same(await w.ledger.summary(), before, 'no balance changed');
  });
});

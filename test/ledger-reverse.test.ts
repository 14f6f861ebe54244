// reverse(): every kind of transaction reversed in full and in part, at most once, with the
// deposit tranche, the company balance and the card's daily-limit usage moved back exactly;
// orphan reversals (own id and orphanTxId); the n12 bounds at every entrance; the checker's
// reversal invariant. Real redis-server per scenario, each ending with the invariant checker.
import t, { type Test } from 'tap';
import { Ledger, MAX_AMOUNT_MINOR, type VelocityCounters } from '../ledger/index.js';
import { checkLedger } from '../ledger/check.js';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';

const { scenario, opened } = ledgerScenarios(t);

const DAY = 86_400_000;
const NOW = Date.UTC(2024, 4, 10, 12, 0, 0);

interface Env { ledger: Ledger; depId: string; companyId: string; ubId: string }

async function setup(t: Test, funds: { user?: number; deposit?: number } = {}): Promise<Env> {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { now: () => NOW });
  opened.set(t, ledger);
  const depId = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const companyId = (await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: 'cfg' })).balance.id;
  if (funds.deposit) await ledger.reloadPartnerBalance({ id: depId, amountMinor: funds.deposit, idempotencyKey: 'reload-dep' });
  const ubId = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' })).id;
  if (funds.user) {
    const top = await ledger.post({ type: 'TOPUP', idempotencyKey: 'topup', txId: 'topup', balanceId: ubId, amountMinor: funds.user, partnerId: null });
    if (!top.ok) throw new Error('setup topup failed');
  }
  return { ledger, depId, companyId, ubId };
}

const debitArgs = (e: Env, id: string, amount: number, extra: Record<string, unknown> = {}) => ({
  idempotencyKey: 'd-' + id, txId: id, balanceId: e.ubId, depositId: e.depId, companyId: e.companyId, amountMinor: amount, expiresAtMs: NOW + 7 * DAY, ...extra,
});

/** User available/blocked, deposit available/blocked, company available: what a test compares before and after. */
async function money(e: Env): Promise<{ ua: number; ub: number; da: number; db: number; ka: number }> {
  const u = (await e.ledger.getUserBalance(e.ubId))!;
  const d = (await e.ledger.getPartnerBalance(e.depId))!;
  const k = (await e.ledger.getPartnerBalance(e.companyId))!;
  return { ua: u.availableMinor, ub: u.blockedMinor, da: d.availableMinor, db: d.blockedMinor, ka: k.availableMinor };
}

async function checked(t: Test, e: Env, what: string): Promise<void> {
  const r = await checkLedger(e.ledger.redis);
  t.ok(r.ok, `ledger check passes ${what}`, { diagnostic: !r.ok, errors: r.errors });
}

scenario('0200 debit: full reversal credits back amount, fees and deposit; a second one moves nothing', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  t.match(await ledger.debit(debitArgs(e, 'd1', 100, { feeMinor: 5, fxFeeMinor: 2 })), { approved: true, status: 'CLEARED' });
  t.same(await money(e), { ua: 893, ub: 0, da: 900, db: 0, ka: 7 });
  const r = await ledger.reverse({ idempotencyKey: 'r1', txId: 'd1', balanceId: ubId });
  t.match(r, { ok: true, reason: 'APPROVED', replay: false, effect: 'CREDITED_BACK', movedMinor: 107, status: 'REVERSED', availableMinor: 1000, blockedMinor: 0, amountMinor: 100 });
  t.same(await money(e), { ua: 1000, ub: 0, da: 1000, db: 0, ka: 0 }, 'user, deposit and company are back where they were');
  t.match(await ledger.getTransaction(ubId, 'd1'), { status: 'REVERSED', reversed: true, reversedMinor: 100 });
  const entry = (await ledger.readJournal(0)).find((j) => j.op === 'reverse');
  t.same(entry?.postings.map((p) => `${p.from}>${p.to}>${p.amountMinor}>${p.code}`), [
    `W:scheme>U:${ubId}:a>100>REVERSE`, `P:${e.companyId}:g00:a>U:${ubId}:a>5>FEE_BACK`, `P:${e.companyId}:g00:a>U:${ubId}:a>2>FX_BACK`,
    `W:deposit>P:${e.depId}:g00:a>100>REVERSE`,
  ], 'the postings mirror the debit with the same counterparts');
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'd1', balanceId: ubId }), { ok: true, replay: true, movedMinor: 107 });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'd1', balanceId: ubId }),
    { ok: true, reason: 'ALREADY_REVERSED', effect: 'NONE', movedMinor: 0, status: 'REVERSED' });
  t.same(await money(e), { ua: 1000, ub: 0, da: 1000, db: 0, ka: 0 });
});

scenario('0200 debit: partial reversal gives back the principal difference only; a full one after it moves nothing', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.debit(debitArgs(e, 'd1', 100, { feeMinor: 5 }));
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'd1', balanceId: ubId, newAmountMinor: 130 }), { ok: false, reason: 'INVALID_AMOUNT', movedMinor: 0 });
  const r = await ledger.reverse({ idempotencyKey: 'r2', txId: 'd1', balanceId: ubId, newAmountMinor: 60 });
  t.match(r, { ok: true, effect: 'CREDITED_BACK', movedMinor: 40, status: 'CLEARED', amountMinor: 60 });
  t.same(await money(e), { ua: 935, ub: 0, da: 940, db: 0, ka: 5 }, 'fee kept, principal difference back to user and deposit');
  t.match(await ledger.getTransaction(ubId, 'd1'), { status: 'CLEARED', amountMinor: 60, reversed: true, reversedMinor: 40 });
  await checked(t, e, 'after the partial reversal');
  t.match(await ledger.reverse({ idempotencyKey: 'r3', txId: 'd1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0, amountMinor: 60 });
  t.same(await money(e), { ua: 935, ub: 0, da: 940, db: 0, ka: 5 });
});

scenario('forced post below zero: a full reversal credits it back, a partial one in part', async (t) => {
  const e = await setup(t, { user: 50, deposit: 1000 });
  const { ledger, ubId } = e;
  t.match(await ledger.debit(debitArgs(e, 'f1', 200, { forced: true })), { approved: true, availableMinor: -150 });
  t.match(await ledger.debit(debitArgs(e, 'f2', 100, { forced: true })), { approved: true, availableMinor: -250 });
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'f1', balanceId: ubId }), { ok: true, effect: 'CREDITED_BACK', movedMinor: 200, availableMinor: -50, status: 'REVERSED' });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'f2', balanceId: ubId, newAmountMinor: 75 }), { ok: true, movedMinor: 25, availableMinor: -25, status: 'CLEARED' });
  t.same(await money(e), { ua: -25, ub: 0, da: 925, db: 0, ka: 0 });
});

scenario('cleared authorization: full reversal credits back what was cleared and the fees posted at clearing; partial in part', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.hold(debitArgs(e, 'h1', 100, { feeMinor: 3, idempotencyKey: 'h-h1' }));
  await ledger.hold(debitArgs(e, 'h2', 200, { idempotencyKey: 'h-h2' }));
  t.match(await ledger.clear({ idempotencyKey: 'c1', txId: 'h1', balanceId: ubId, amountMinor: 90 }), { ok: true, status: 'CLEARED', releasedMinor: 10, feesPostedMinor: 3 });
  t.match(await ledger.clear({ idempotencyKey: 'c2', txId: 'h2', balanceId: ubId, amountMinor: 200 }), { ok: true, status: 'CLEARED' });
  t.same(await money(e), { ua: 707, ub: 0, da: 710, db: 0, ka: 3 });
  t.match(await ledger.reverse({ idempotencyKey: 'r0', txId: 'h1', balanceId: ubId, newAmountMinor: 95 }), { ok: false, reason: 'INVALID_AMOUNT' },
    'the base of a cleared authorization is what was cleared');
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'h1', balanceId: ubId }),
    { ok: true, effect: 'CREDITED_BACK', movedMinor: 93, status: 'REVERSED', availableMinor: 800 });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'h2', balanceId: ubId, newAmountMinor: 150 }),
    { ok: true, effect: 'CREDITED_BACK', movedMinor: 50, status: 'CLEARED', amountMinor: 150 });
  t.same(await money(e), { ua: 850, ub: 0, da: 850, db: 0, ka: 0 });
  t.match(await ledger.getTransaction(ubId, 'h2'), { reversedMinor: 50, clearedMinor: 200, amountMinor: 150 });
});

scenario('card credits: a refund and a payment credit are debited back (may go below zero), deposit too', async (t) => {
  const e = await setup(t, { user: 10, deposit: 1000 });
  const { ledger, ubId, depId } = e;
  t.match(await ledger.credit({ idempotencyKey: 'cr1', txId: 'ref', balanceId: ubId, amountMinor: 100, depositId: depId }), { ok: true });
  t.match(await ledger.credit({ type: 'PAYMENT_CREDIT', idempotencyKey: 'cr2', txId: 'pay', balanceId: ubId, amountMinor: 300, depositId: null }), { ok: true });
  t.same(await money(e), { ua: 410, ub: 0, da: 1100, db: 0, ka: 0 });
  await ledger.debit(debitArgs(e, 'spend', 400, { depositId: null }));
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'ref', balanceId: ubId, newAmountMinor: 40 }),
    { ok: true, effect: 'DEBITED_BACK', movedMinor: 60, availableMinor: -50, status: 'CLEARED', amountMinor: 40 });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'pay', balanceId: ubId }),
    { ok: true, effect: 'DEBITED_BACK', movedMinor: 300, availableMinor: -350, status: 'REVERSED' });
  t.same(await money(e), { ua: -350, ub: 0, da: 1040, db: 0, ka: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r3', txId: 'ref', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r4', txId: 'topup', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_OPEN', movedMinor: 0 },
    'internal types are not reversed as card transactions');
});

scenario('open hold: partial release to the new amount (deposit tranche too), then a full reversal moves nothing', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.hold(debitArgs(e, 'h1', 300, { feeMinor: 10, idempotencyKey: 'h-h1' }));
  await ledger.hold(debitArgs(e, 'h2', 100, { idempotencyKey: 'h-h2' }));
  t.same(await money(e), { ua: 590, ub: 410, da: 600, db: 400, ka: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'h1', balanceId: ubId, newAmountMinor: 200 }),
    { ok: true, effect: 'RELEASED', movedMinor: 100, status: 'AUTHORIZED', amountMinor: 200, blockedMinor: 310 });
  t.same(await money(e), { ua: 690, ub: 310, da: 700, db: 300, ka: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'h1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r3', txId: 'h2', balanceId: ubId }),
    { ok: true, effect: 'RELEASED', movedMinor: 100, status: 'REVERSED', blockedMinor: 210 });
  t.same(await money(e), { ua: 790, ub: 210, da: 800, db: 200, ka: 0 });
  await checked(t, e, 'with a hold still open');
  t.match(await ledger.clear({ idempotencyKey: 'c1', txId: 'h1', balanceId: ubId, amountMinor: 200 }), { ok: true, feesPostedMinor: 10 });
  t.same(await money(e), { ua: 790, ub: 0, da: 800, db: 0, ka: 10 });
  t.match(await ledger.getTransaction(ubId, 'h1'), { status: 'CLEARED', reversedMinor: 100, reversed: true });
});

scenario('release() keeps working and marks what it released', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.hold(debitArgs(e, 'h1', 300, { idempotencyKey: 'h-h1' }));
  t.match(await ledger.release({ idempotencyKey: 'rel', txId: 'h1', balanceId: ubId, newAmountMinor: 100 }), { ok: true, releasedMinor: 200, amountMinor: 100 });
  t.match(await ledger.getTransaction(ubId, 'h1'), { reversedMinor: 200, heldMinor: 100 });
  t.match(await ledger.reverse({ idempotencyKey: 'rev', txId: 'h1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 });
  await ledger.debit(debitArgs(e, 'p1', 50));
  t.match(await ledger.release({ idempotencyKey: 'rel2', txId: 'p1', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_OPEN', releasedMinor: 0 },
    'release() only knows open holds; reverse() moves posted money');
});

scenario('unknown transaction: nothing moves; remembered on request, and the late original holds nothing', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'ghost', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_FOUND', effect: 'NONE', movedMinor: 0 });
  t.equal(await ledger.getTransaction(ubId, 'ghost'), null, 'not remembered without rememberOrphan');
  t.match(await ledger.hold(debitArgs(e, 'ghost', 10, { idempotencyKey: 'h-ghost' })), { approved: true });
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'late-h', balanceId: ubId, rememberOrphan: true }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
  t.match(await ledger.reverse({ idempotencyKey: 'r3', txId: 'late-d', balanceId: ubId, rememberOrphan: true }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
  const before = await money(e);
  t.match(await ledger.hold(debitArgs(e, 'late-h', 10, { idempotencyKey: 'h-late' })), { approved: false, reason: 'ALREADY_REVERSED' });
  t.match(await ledger.debit(debitArgs(e, 'late-d', 10)), { approved: false, reason: 'ALREADY_REVERSED' });
  t.same(await money(e), before, 'the late originals moved nothing');
  t.match(await ledger.reverse({ idempotencyKey: 'r4', txId: 'late-h', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 });
});

scenario('orphanTxId: a reversal remembered under the wildcard id stops a later hold and a later debit', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.reverse({ idempotencyKey: 'r1', txId: 'orig-any', balanceId: ubId, rememberOrphan: true });
  const before = await money(e);
  t.match(await ledger.hold(debitArgs(e, 'orig-T1', 10, { idempotencyKey: 'h1', orphanTxId: 'orig-any' })), { approved: false, reason: 'ALREADY_REVERSED', status: 'REVERSED' });
  t.match(await ledger.debit(debitArgs(e, 'orig-T2', 10, { idempotencyKey: 'd2', orphanTxId: 'orig-any' })), { approved: false, reason: 'ALREADY_REVERSED' });
  t.match(await ledger.debit(debitArgs(e, 'orig-T3', 10, { idempotencyKey: 'd3', orphanTxId: 'orig-any', forced: true })), { approved: false, reason: 'ALREADY_REVERSED' });
  t.same(await money(e), before, 'nothing held or posted');
  t.equal(await ledger.getTransaction(ubId, 'orig-T1'), null);
  t.match(await ledger.hold(debitArgs(e, 'other-T1', 10, { idempotencyKey: 'h4', orphanTxId: 'other-any' })), { approved: true }, 'no record there: approved');
  // Through hold-many: two debits coalesced into one call.
  const [a, b] = await Promise.all([
    ledger.hold(debitArgs(e, 'orig-T5', 10, { idempotencyKey: 'h5', orphanTxId: 'orig-any' })),
    ledger.hold(debitArgs(e, 'x-T6', 10, { idempotencyKey: 'h6', orphanTxId: 'x-any' })),
  ]);
  t.match(a, { approved: false, reason: 'ALREADY_REVERSED' });
  t.match(b, { approved: true });
});

/** A card's daily limits as the switch passes them (switch/process/plan/pricing.ts dailyLimits): an ATM withdrawal. */
const atmLimits = (day: string): VelocityCounters => ({
  cardId: 'card1', scope: 'CASH', counters: [
    { controlId: 'limits.daily', window: 'DAY', period: day, scope: 'ALL', amountMinor: 500, count: 2, enforced: true },
    { controlId: 'limits.atmDaily', window: 'DAY', period: day, scope: 'CASH', amountMinor: 300, count: null, enforced: true },
  ],
});
const utcDay = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
const usage = (amt: number, cnt: number, atm: number, atmCnt = cnt) => ({
  'a:limits.daily': String(amt), 'n:limits.daily': String(cnt), 'a:limits.atmDaily': String(atm), 'n:limits.atmDaily': String(atmCnt),
});

scenario('daily-limit usage is given back: a failed ATM withdrawal reversed in full or in part can be retried', async (t) => {
  const e = await setup(t, { user: 5000, deposit: 5000 });
  const { ledger, ubId } = e;
  const today = utcDay(NOW);
  const use = `{g00}:use:card1:${today}`;
  t.match(await ledger.debit(debitArgs(e, 'atm1', 300, { counters: atmLimits(today) })), { approved: true });
  t.match(await ledger.debit(debitArgs(e, 'atm1b', 300, { counters: atmLimits(today) })), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' }, 'the ATM limit is used up');
  t.match(await ledger.reverse({ idempotencyKey: 'r1', txId: 'atm1', balanceId: ubId }), { ok: true, movedMinor: 300 });
  t.same(await ledger.redis.hgetall(use), usage(0, 0, 0), 'amount, ATM amount and count given back');
  t.match(await ledger.debit(debitArgs(e, 'atm2', 300, { counters: atmLimits(today) })), { approved: true }, 'the same withdrawal is approved again');
  t.match(await ledger.reverse({ idempotencyKey: 'r2', txId: 'atm2', balanceId: ubId, newAmountMinor: 100 }), { ok: true, movedMinor: 200 });
  t.same(await ledger.redis.hgetall(use), usage(100, 1, 100), 'a partial reversal gives back the amount, not the count');
  t.match(await ledger.debit(debitArgs(e, 'atm3', 200, { counters: atmLimits(today) })), { approved: true }, 'what was given back can be withdrawn');
  // A hold counted yesterday, reversed today: yesterday's usage is given back (the record names its usage hash).
  const yesterday = utcDay(NOW - DAY);
  t.match(await ledger.hold(debitArgs(e, 'h-y', 250, { idempotencyKey: 'h-y', counters: atmLimits(yesterday) })), { approved: true });
  t.match(await ledger.reverse({ idempotencyKey: 'r3', txId: 'h-y', balanceId: ubId }), { ok: true, effect: 'RELEASED', movedMinor: 250 });
  t.same(await ledger.redis.hgetall(`{g00}:use:card1:${yesterday}`), usage(0, 0, 0));
  t.same(await ledger.redis.hgetall(use), usage(300, 2, 300), 'usage of another day is not touched');
  t.match(await ledger.debit(debitArgs(e, 'atm4', 100, { counters: atmLimits(today) })), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' }, 'the ATM amount is used up again');
  // A usage hash gone (its period over) is not recreated by a reversal.
  await ledger.redis.del(use);
  t.match(await ledger.reverse({ idempotencyKey: 'r4', txId: 'atm3', balanceId: ubId }), { ok: true, movedMinor: 200 });
  t.equal(await ledger.redis.exists(use), 0, 'not recreated');
});

scenario('a transaction counted before the counters (daily usage hash uk/um/uq) still gets its usage back', async (t) => {
  const e = await setup(t, { user: 5000, deposit: 5000 });
  const { ledger, ubId } = e;
  const use = `{g00}:use:card1:${utcDay(NOW - 3 * DAY)}`;
  t.match(await ledger.hold(debitArgs(e, 'old', 300)), { approved: true });
  // What the hold script wrote before velocity counters: the usage hash and the record's uk/um/uq.
  await ledger.redis.hset(use, 'amt', '700', 'cnt', '3', 'atm', '300');
  await ledger.redis.hset(`{g00}:tx:${ubId}:old`, 'uk', use, 'um', '300', 'uq', '1');
  t.match(await ledger.reverse({ idempotencyKey: 'r-old', txId: 'old', balanceId: ubId }), { ok: true, effect: 'RELEASED', movedMinor: 300 });
  t.same(await ledger.redis.hgetall(use), { amt: '400', cnt: '2', atm: '0' }, 'given back on the day it was counted, however long ago');
});

scenario('n12 bounds at every entrance: amounts above the maximum are refused, balances never pass it', async (t) => {
  const e = await setup(t, { user: MAX_AMOUNT_MINOR - 100, deposit: 1000 });
  const { ledger, ubId, depId, companyId } = e;
  const over = MAX_AMOUNT_MINOR + 1;
  const code = { code: 'LEDGER_ERR_AMOUNT_TOO_LARGE' };
  await t.rejects(ledger.hold(debitArgs(e, 'x1', over)), code);
  await t.rejects(ledger.debit(debitArgs(e, 'x2', 1, { feeMinor: over })), code);
  await t.rejects(ledger.credit({ idempotencyKey: 'x3', txId: 'x3', balanceId: ubId, amountMinor: over, depositId: null }), code);
  await t.rejects(ledger.post({ type: 'TOPUP', idempotencyKey: 'x4', txId: 'x4', balanceId: ubId, amountMinor: over, partnerId: null }), code);
  await t.rejects(ledger.reloadPartnerBalance({ id: depId, amountMinor: over, idempotencyKey: 'x5' }), code);
  await t.rejects(ledger.clear({ idempotencyKey: 'x6', txId: 'x6', balanceId: ubId, amountMinor: over }), code);
  await t.rejects(ledger.reverse({ idempotencyKey: 'x7', txId: 'x7', balanceId: ubId, newAmountMinor: over }), code);
  const before = await money(e);
  t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'b1', txId: 'b1', balanceId: ubId, amountMinor: 101, partnerId: null }), { ok: false, reason: 'AMOUNT_TOO_LARGE' });
  t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'b2', txId: 'b2', balanceId: ubId, amountMinor: 100, partnerId: null }), { ok: true, availableMinor: MAX_AMOUNT_MINOR }, 'up to the maximum exactly');
  t.match(await ledger.credit({ idempotencyKey: 'b3', txId: 'b3', balanceId: ubId, amountMinor: 1, depositId: depId, forced: true }), { ok: false, reason: 'AMOUNT_TOO_LARGE' });
  // Holds keep available + blocked: the balance stays at the maximum with money held.
  t.match(await ledger.hold(debitArgs(e, 'h1', 500, { idempotencyKey: 'h1' })), { approved: true });
  t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'b4', txId: 'b4', balanceId: ubId, amountMinor: 1, partnerId: null }), { ok: false, reason: 'AMOUNT_TOO_LARGE' },
    'blocked money counts toward the balance');
  t.match(await ledger.reverse({ idempotencyKey: 'b5', txId: 'h1', balanceId: ubId }), { ok: true, movedMinor: 500 }, 'releasing never passes the maximum');
  // A posted debit whose credit-back would pass the maximum (the balance was topped up meanwhile).
  t.match(await ledger.debit(debitArgs(e, 'd1', 200)), { approved: true });
  t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'b6', txId: 'b6', balanceId: ubId, amountMinor: 150, partnerId: null }), { ok: true });
  const mid = await money(e);
  t.match(await ledger.reverse({ idempotencyKey: 'b7', txId: 'd1', balanceId: ubId }), { ok: false, reason: 'AMOUNT_TOO_LARGE', movedMinor: 0, effect: 'NONE' });
  t.same(await money(e), mid, 'nothing moved');
  t.notOk((await ledger.getTransaction(ubId, 'd1'))?.reversed, 'and it is not marked reversed');
  // Partner balances: a reload, a FUNDING into a credit balance, a FEE into the company balance.
  t.match(await ledger.reloadPartnerBalance({ id: depId, amountMinor: MAX_AMOUNT_MINOR - 500, idempotencyKey: 'b8' }), { ok: false, reason: 'AMOUNT_TOO_LARGE' });
  t.match(await ledger.reloadPartnerBalance({ id: depId, amountMinor: MAX_AMOUNT_MINOR - 1000 + 200 - 1000, idempotencyKey: 'b9' }), { ok: true });
  const creditId = (await ledger.createPartnerBalance({ type: 'CREDIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  await ledger.reloadPartnerBalance({ id: creditId, amountMinor: MAX_AMOUNT_MINOR - 10, idempotencyKey: 'b10' });
  t.match(await ledger.post({ type: 'FUNDING', idempotencyKey: 'b11', txId: 'b11', balanceId: ubId, amountMinor: 11, partnerId: creditId }), { ok: false, reason: 'AMOUNT_TOO_LARGE' });
  t.match(await ledger.post({ type: 'FUNDING', idempotencyKey: 'b12', txId: 'b12', balanceId: ubId, amountMinor: 10, partnerId: creditId }), { ok: true });
  await ledger.reloadPartnerBalance({ id: companyId, amountMinor: MAX_AMOUNT_MINOR - 1, idempotencyKey: 'b13' });
  t.match(await ledger.post({ type: 'FEE', idempotencyKey: 'b14', txId: 'b14', balanceId: ubId, amountMinor: 2, partnerId: companyId }), { ok: false, reason: 'AMOUNT_TOO_LARGE' });
  t.match(await ledger.debit(debitArgs(e, 'd2', 10, { feeMinor: 2 })), { approved: false, reason: 'AMOUNT_TOO_LARGE' }, 'a 0200 fee into a full company balance');
  t.match(await ledger.debit(debitArgs(e, 'd3', 10, { feeMinor: 2, forced: true })), { approved: true },
    'a forced post is never declined (its fees may take the company balance past the maximum)');
  t.ok(before);
});

scenario('checker: a transaction marked reversed that moved nothing is reported with balance and tx id', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.debit(debitArgs(e, 'd1', 100));
  await ledger.credit({ idempotencyKey: 'c1', txId: 'c1', balanceId: ubId, amountMinor: 50, depositId: null });
  await ledger.debit(debitArgs(e, 'd2', 100));
  await ledger.reverse({ idempotencyKey: 'r2', txId: 'd2', balanceId: ubId, newAmountMinor: 40 });
  await checked(t, e, 'before the fault');
  const key = (id: string) => `{g00}:tx:${ubId}:${id}`;
  await ledger.redis.hset(key('d1'), 'r', '1');
  let r = await checkLedger(ledger.redis);
  t.notOk(r.ok);
  t.match(r.errors.join('\n'), new RegExp(`transaction ${ubId} d1: marked reversed but nothing was moved back`));
  await ledger.redis.hset(key('d1'), 'r', '1', 'rk', 'C', 'rv', '100', 's', '3');
  r = await checkLedger(ledger.redis);
  t.match(r.errors.join('\n'), new RegExp(`transaction ${ubId} d1: reversed, but its user postings net -100 instead of 0`));
  await ledger.redis.hdel(key('d1'), 'r', 'rk', 'rv');
  await ledger.redis.hset(key('d1'), 's', '2');
  await ledger.redis.hset(key('c1'), 'r', '1', 'rk', 'D', 'rv', '50', 's', '3');
  r = await checkLedger(ledger.redis);
  t.match(r.errors.join('\n'), new RegExp(`transaction ${ubId} c1: reversed, but its user postings net 50 instead of 0`));
  await ledger.redis.hset(key('d2'), 'rv', '10');
  r = await checkLedger(ledger.redis);
  t.match(r.errors.join('\n'), new RegExp(`transaction ${ubId} d2: reversed, but its user postings net -40 instead of -90`), 'a partial that claims less than it moved');
  t.equal(r.errors.length, 2);
  await ledger.redis.hdel(key('c1'), 'r', 'rk', 'rv');
  await ledger.redis.hset(key('c1'), 's', '2');
  await ledger.redis.hset(key('d2'), 'rv', '60');
});

scenario('summary and checker sums are exact past 2^53', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { now: () => NOW });
  opened.set(t, ledger);
  const n = Math.ceil(Number.MAX_SAFE_INTEGER / MAX_AMOUNT_MINOR) + 1;
  for (let i = 0; i < n; i += 500) {
    await Promise.all(Array.from({ length: Math.min(500, n - i) }, async (_, j) => {
      const id = (await ledger.createUserBalance({ customerId: `c${i + j}`, currency: 'EUR', configId: 'cfg' })).id;
      const p = await ledger.post({ type: 'TOPUP', idempotencyKey: `t${i + j}`, txId: 't', balanceId: id, amountMinor: MAX_AMOUNT_MINOR, partnerId: null });
      if (!p.ok) throw new Error('topup failed');
    }));
  }
  const total = BigInt(n) * BigInt(MAX_AMOUNT_MINOR);
  const s = await ledger.summary();
  t.same(s.EUR, { usersMinor: total.toString(), partnersMinor: 0, walletMinor: total.toString() }, 'beyond 2^53 the sums are decimal strings');
  const report = await checkLedger(ledger.redis);
  t.equal(report.currencies.EUR?.userAvailableMinor, total);
  t.equal(report.currencies.EUR?.worldMinor, -total);
});

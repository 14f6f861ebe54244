// Incremental authorizations (ledger.incrementHold) and completion advices (ledger.replaceHold):
// one transaction and one hold however many increments; a declined increment leaves the original
// as it was; reversals of an increment or of the whole; a clearing for the total; a completion
// replacing the hold up or down, once. Real redis-server per scenario, each ending with the checker.
import t, { type Test } from 'tap';
import { Ledger, counterPeriod, type IncrementArgs, type VelocityCounters } from '../ledger/index.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';

const { scenario, opened } = ledgerScenarios(t);

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7, 10, 0, 0);

interface Env { ledger: Ledger; depId: string; companyId: string; ubId: string }

async function setup(t: Test, user = 20_000, deposit = 100_000): Promise<Env> {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { now: () => NOW });
  opened.set(t, ledger);
  const depId = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const companyId = (await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: 'cfg' })).balance.id;
  await ledger.reloadPartnerBalance({ id: depId, amountMinor: deposit, idempotencyKey: 'reload' });
  const ubId = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' })).id;
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: ubId, amountMinor: user, partnerId: null });
  return { ledger, depId, companyId, ubId };
}

const velocity = (amountMinor: number | null = null): VelocityCounters => ({
  cardId: 'card1', scope: 'PURCHASE', counters: [
    { controlId: 'day', window: 'DAY', period: counterPeriod('DAY', NOW), scope: 'ALL', amountMinor, count: 10, enforced: true },
    { controlId: 'month', window: 'MONTH', period: counterPeriod('MONTH', NOW), scope: 'ALL', amountMinor: null, count: null, enforced: false },
  ],
});

/** The hotel's pre-authorization: 100.00 with a 0.50 fee, 30 days. */
const preauth = (e: Env, id = 'hotel', amount = 10_000, extra: object = {}) => e.ledger.hold({
  idempotencyKey: 'h-' + id, txId: id, balanceId: e.ubId, depositId: e.depId, companyId: e.companyId, amountMinor: amount, feeMinor: 50,
  expiresAtMs: NOW + 30 * DAY, nowMs: NOW, counters: velocity(), ...extra,
});
const increment = (e: Env, id: string, amount: number, extra: Partial<IncrementArgs> = {}) => e.ledger.incrementHold({
  idempotencyKey: 'i-' + id, originalTxId: 'hotel', incrementTxId: id, balanceId: e.ubId, depositId: e.depId, companyId: e.companyId,
  amountMinor: amount, feeMinor: 20, expiresAtMs: NOW + 31 * DAY, nowMs: NOW, counters: velocity(), ...extra,
});

async function money(e: Env): Promise<{ ua: number; ub: number; da: number; db: number; ka: number }> {
  const u = (await e.ledger.getUserBalance(e.ubId))!;
  const d = (await e.ledger.getPartnerBalance(e.depId))!;
  const k = (await e.ledger.getPartnerBalance(e.companyId))!;
  return { ua: u.availableMinor, ub: u.blockedMinor, da: d.availableMinor, db: d.blockedMinor, ka: k.availableMinor };
}

const usage = async (e: Env) => e.ledger.redis.hgetall(`{g00}:use:card1:${counterPeriod('DAY', NOW)}`);
const raw = (e: Env, id: string) => e.ledger.redis.hgetall(`{g00}:tx:${e.ubId}:${id}`);

async function checked(t: Test, e: Env, what: string): Promise<void> {
  const r = await checkLedger(e.ledger.redis);
  t.ok(r.ok, `ledger check passes ${what}`, { diagnostic: !r.ok, report: formatReport(r) });
}

scenario('a hotel: 100.00 pre-authorized, 50.00 more by an increment, 150.00 cleared: held once, released once, expiry extended', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  t.match(await preauth(e), { approved: true });
  const r = await increment(e, 'hotel-inc', 5_000);
  t.match(r, { approved: true, reason: 'APPROVED', status: 'AUTHORIZED', replay: false, availableMinor: 20_000 - 15_070, blockedMinor: 15_070, depositBlockedMinor: 15_000 });
  t.same(await money(e), { ua: 4_930, ub: 15_070, da: 85_000, db: 15_000, ka: 0 });
  t.match(await ledger.getTransaction(ubId, 'hotel'), {
    status: 'AUTHORIZED', amountMinor: 15_000, heldMinor: 15_000, feesHeldMinor: 70, feeMinor: 70, depositHeldMinor: 15_000, expiresAtMs: NOW + 31 * DAY,
  }, 'one transaction holds both, expiring at the later date');
  t.match(await ledger.getTransaction(ubId, 'hotel-inc'), { type: 'INCREMENT', originalTxId: 'hotel', amountMinor: 15_000 - 10_000, heldMinor: 0 });
  t.equal(await ledger.redis.zscore('{g00}:exp', `${ubId}|hotel`), String(NOW + 31 * DAY), 'the expiry index moved with it');
  t.same(await usage(e), { 'a:day': '15000', 'n:day': '1' }, 'the increment counted its amount, not a second transaction');
  await checked(t, e, 'with an open increment');

  t.match(await ledger.sweepExpired(NOW + 30 * DAY + 1), { expired: 0 }, 'nothing expires at the original date');
  const cl = await ledger.clear({ idempotencyKey: 'cl', txId: 'hotel', balanceId: ubId, amountMinor: 15_000 });
  t.match(cl, { ok: true, status: 'CLEARED', clearedFromHoldMinor: 15_000, forcedMinor: 0, releasedMinor: 0, feesPostedMinor: 70 });
  t.same(await money(e), { ua: 4_930, ub: 0, da: 85_000, db: 0, ka: 70 }, 'the clearing for the total takes everything held, nothing stays');
  t.match(await ledger.reverse({ idempotencyKey: 'r-inc', txId: 'hotel-inc', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_OPEN', movedMinor: 0 },
    'an increment of a cleared authorization is posted money: nothing moves');
  t.match(await ledger.sweepExpired(NOW + 40 * DAY), { expired: 0 });
  t.same(await money(e), { ua: 4_930, ub: 0, da: 85_000, db: 0, ka: 70 });
});

scenario('a declined increment leaves the original exactly as it was (funds, deposit, limits, not open, unknown)', async (t) => {
  const e = await setup(t, 12_000, 12_000);
  const { ledger, ubId } = e;
  t.match(await preauth(e), { approved: true });
  const before = { tx: await raw(e, 'hotel'), money: await money(e), usage: await usage(e) };
  const unchanged = async (what: string) => {
    t.same({ tx: await raw(e, 'hotel'), money: await money(e), usage: await usage(e) }, before, `${what}: the original and the balances as they were`);
    t.same(await raw(e, 'inc-x'), {}, `${what}: no increment recorded`);
  };
  t.match(await increment(e, 'inc-x', 5_000), { approved: false, reason: 'INSUFFICIENT_FUNDS', status: 'NONE' });
  await unchanged('insufficient funds');
  t.match(await increment(e, 'inc-x', 1_931, { idempotencyKey: 'i-inc-x2' }), { approved: false, reason: 'INSUFFICIENT_FUNDS' }, 'fees count too');
  t.match(await increment(e, 'inc-x', 2_500, { idempotencyKey: 'i-inc-x3', feeMinor: 0, userUnchecked: true }), { approved: false, reason: 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE' });
  await unchanged('deposit short');
  t.match(await increment(e, 'inc-x', 100, { idempotencyKey: 'i-inc-x4', counters: velocity(10_050) }), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' });
  await unchanged('over a velocity amount limit');
  t.match(await increment(e, 'inc-x', 100, { idempotencyKey: 'i-inc-x5', originalTxId: 'nope' }), { approved: false, reason: 'TRANSACTION_NOT_FOUND' });
  t.match(await ledger.debit({ idempotencyKey: 'p1', txId: 'p1', balanceId: ubId, depositId: e.depId, amountMinor: 10 }), { approved: true });
  t.match(await increment(e, 'inc-x', 100, { idempotencyKey: 'i-inc-x6', originalTxId: 'p1' }), { approved: false, reason: 'TRANSACTION_NOT_OPEN' }, 'a posted debit');
  t.match(await increment(e, 'inc-ok', 100), { approved: true });
  t.match(await increment(e, 'inc-x', 100, { idempotencyKey: 'i-inc-x7', originalTxId: 'inc-ok' }), { approved: false, reason: 'TRANSACTION_NOT_OPEN' }, 'an increment names the original, not another increment');
  await t.rejects(increment(e, 'inc-y', 100, { depositId: null }), { code: 'LEDGER_ERR_INVALID_ARGUMENT' }, 'held against another deposit than the original');
  t.match(await ledger.reverse({ idempotencyKey: 'r-all', txId: 'hotel', balanceId: ubId }), { ok: true });
  t.match(await increment(e, 'inc-z', 100), { approved: false, reason: 'TRANSACTION_NOT_OPEN' }, 'a reversed original');
});

scenario('a reversal of the increment gives back only the increment; a full reversal of the original gives back everything still held', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  t.match(await preauth(e), { approved: true });
  t.match(await increment(e, 'inc1', 5_000), { approved: true });
  t.match(await increment(e, 'inc2', 2_000, { expiresAtMs: NOW + DAY }), { approved: true }, 'an earlier expiry does not shorten the transaction');
  t.equal((await ledger.getTransaction(ubId, 'hotel'))!.expiresAtMs, NOW + 31 * DAY);
  t.same(await money(e), { ua: 20_000 - 17_090, ub: 17_090, da: 83_000, db: 17_000, ka: 0 });
  const r = await ledger.reverse({ idempotencyKey: 'r-inc1', txId: 'inc1', balanceId: ubId });
  t.match(r, { ok: true, reason: 'APPROVED', effect: 'RELEASED', movedMinor: 5_020, status: 'REVERSED', amountMinor: 5_000 });
  t.same(await money(e), { ua: 20_000 - 12_070, ub: 12_070, da: 88_000, db: 12_000, ka: 0 }, 'the increment and its fee went back, deposit too');
  t.match(await ledger.getTransaction(ubId, 'hotel'), { status: 'AUTHORIZED', amountMinor: 12_000, heldMinor: 12_000, feesHeldMinor: 70 });
  t.same(await usage(e), { 'a:day': '12000', 'n:day': '1' }, 'the increment\'s usage given back');
  t.match(await ledger.reverse({ idempotencyKey: 'r-inc1-again', txId: 'inc1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 });
  t.match(await ledger.reverse({ idempotencyKey: 'r-inc1', txId: 'inc1', balanceId: ubId }), { ok: true, replay: true }, 'its repeat is a replay');
  await checked(t, e, 'after the increment\'s reversal');
  const all = await ledger.reverse({ idempotencyKey: 'r-hotel', txId: 'hotel', balanceId: ubId });
  t.match(all, { ok: true, effect: 'RELEASED', movedMinor: 12_070, status: 'REVERSED' }, 'the original and the other increment');
  t.same(await money(e), { ua: 20_000, ub: 0, da: 100_000, db: 0, ka: 0 });
  t.same(await usage(e), { 'a:day': '0', 'n:day': '0' });
  t.match(await ledger.reverse({ idempotencyKey: 'r-inc2', txId: 'inc2', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', movedMinor: 0 },
    'an increment of a reversed original: nothing left to give back');
  t.same(await money(e), { ua: 20_000, ub: 0, da: 100_000, db: 0, ka: 0 });
});

scenario('a partial reversal of the original sets the whole transaction\'s amount; the increment\'s reversal then gives back at most what is held', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  t.match(await preauth(e), { approved: true });
  t.match(await increment(e, 'inc1', 5_000), { approved: true });
  t.match(await ledger.reverse({ idempotencyKey: 'r-part', txId: 'hotel', balanceId: ubId, newAmountMinor: 12_000 }), { ok: true, movedMinor: 3_000, amountMinor: 12_000 });
  t.same(await usage(e), { 'a:day': '12000', 'n:day': '1' }, 'usage follows the final amount');
  t.match(await ledger.reverse({ idempotencyKey: 'r-inc1', txId: 'inc1', balanceId: ubId, newAmountMinor: 1_000 }), { ok: true, movedMinor: 4_000, amountMinor: 1_000 },
    'a partial reversal of the increment: its own new final amount');
  t.match(await ledger.getTransaction(ubId, 'hotel'), { amountMinor: 8_000, heldMinor: 8_000, feesHeldMinor: 70 });
  t.same(await usage(e), { 'a:day': '8000', 'n:day': '1' });
  t.match(await ledger.clear({ idempotencyKey: 'cl', txId: 'hotel', balanceId: ubId, amountMinor: 8_000 }), { ok: true, clearedFromHoldMinor: 8_000, releasedMinor: 0 });
  t.same(await money(e), { ua: 20_000 - 8_070, ub: 0, da: 92_000, db: 0, ka: 70 });
});

scenario('a repeated increment moves nothing twice (by key, and by id with idempotencyKey null); another key under the same id is refused', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  t.match(await preauth(e), { approved: true });
  const first = await increment(e, 'inc1', 1_000);
  t.match(await increment(e, 'inc1', 1_000), { ...first, replay: true }, 'the same key: the first answer');
  t.match(await increment(e, 'inc2', 500, { idempotencyKey: null }), { approved: true, replay: false });
  t.match(await increment(e, 'inc2', 500, { idempotencyKey: null }), { approved: true, replay: true }, 'by id: a replay');
  t.match(await increment(e, 'inc2', 500, { idempotencyKey: 'another' }), { approved: false, reason: 'TRANSACTION_EXISTS' });
  t.same(await money(e), { ua: 20_000 - 11_590, ub: 11_590, da: 88_500, db: 11_500, ka: 0 }, 'held once each');
  // Remembered as reversed before it arrived (an orphan reversal under its id): declined, nothing held.
  t.match(await ledger.reverse({ idempotencyKey: 'r-early', txId: 'inc3', balanceId: e.ubId, rememberOrphan: true }), { reason: 'TRANSACTION_NOT_FOUND' });
  t.match(await increment(e, 'inc3', 500), { approved: false, reason: 'ALREADY_REVERSED' });
  t.same(await money(e), { ua: 20_000 - 11_590, ub: 11_590, da: 88_500, db: 11_500, ka: 0 });
});

scenario('the increment expires with its original, as one hold', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  t.match(await preauth(e), { approved: true });
  t.match(await increment(e, 'inc1', 3_000), { approved: true });
  t.match(await ledger.sweepExpired(NOW + 31 * DAY), { expired: 1 });
  t.match(await ledger.getTransaction(ubId, 'hotel'), { status: 'EXPIRED', heldMinor: 0 });
  t.same(await money(e), { ua: 20_000, ub: 0, da: 100_000, db: 0, ka: 0 });
  t.same(await usage(e), { 'a:day': '0', 'n:day': '0' });
  t.match(await ledger.release({ idempotencyKey: 'rel-inc', txId: 'inc1', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_OPEN' },
    'an increment is no hold of its own to release');
});

scenario('a completion advice replaces the hold: a fuel pump\'s 100.00 completed for 65.00 holds 65.00 once', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  t.match(await preauth(e, 'fuel'), { approved: true });
  const r = await ledger.replaceHold({ idempotencyKey: 'adv-fuel', txId: 'fuel', balanceId: ubId, amountMinor: 6_500 });
  t.match(r, { ok: true, reason: 'APPROVED', replay: false, status: 'AUTHORIZED', releasedMinor: 3_500, forcedMinor: 0, amountMinor: 6_500, blockedMinor: 6_550 });
  t.same(await money(e), { ua: 20_000 - 6_550, ub: 6_550, da: 93_500, db: 6_500, ka: 0 }, 'one hold of 65.00 (and its fee)');
  t.match(await ledger.getTransaction(ubId, 'fuel'), { status: 'AUTHORIZED', amountMinor: 6_500, heldMinor: 6_500, depositHeldMinor: 6_500, feesHeldMinor: 50 });
  t.same(await usage(e), { 'a:day': '6500', 'n:day': '1' });
  t.match(await ledger.replaceHold({ idempotencyKey: 'adv-fuel', txId: 'fuel', balanceId: ubId, amountMinor: 6_500 }), { ...r, replay: true }, 'a repeat moves nothing');
  t.same(await money(e), { ua: 20_000 - 6_550, ub: 6_550, da: 93_500, db: 6_500, ka: 0 });
  await checked(t, e, 'after the completion');
  t.match(await ledger.clear({ idempotencyKey: 'cl-fuel', txId: 'fuel', balanceId: ubId, amountMinor: 6_500 }), { ok: true, clearedFromHoldMinor: 6_500, forcedMinor: 0 });
  t.same(await money(e), { ua: 20_000 - 6_550, ub: 0, da: 93_500, db: 0, ka: 50 });
  t.match(await ledger.replaceHold({ idempotencyKey: 'adv-fuel-2', txId: 'fuel', balanceId: ubId, amountMinor: 100 }), { ok: false, reason: 'TRANSACTION_NOT_OPEN', releasedMinor: 0, forcedMinor: 0 },
    'a cleared authorization is not replaced');
  t.match(await ledger.replaceHold({ idempotencyKey: 'adv-x', txId: 'nope', balanceId: ubId, amountMinor: 100 }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
});

scenario('a completion above the hold (a tip) holds the excess forced, below zero if need be', async (t) => {
  const e = await setup(t, 10_100);
  const { ledger, ubId } = e;
  t.match(await preauth(e, 'meal'), { approved: true });
  const r = await ledger.replaceHold({ idempotencyKey: 'adv-meal', txId: 'meal', balanceId: ubId, amountMinor: 12_000 });
  t.match(r, { ok: true, releasedMinor: 0, forcedMinor: 2_000, amountMinor: 12_000, availableMinor: 10_100 - 12_050, blockedMinor: 12_050 });
  t.same(await money(e), { ua: -1_950, ub: 12_050, da: 88_000, db: 12_000, ka: 0 });
  t.same(await usage(e), { 'a:day': '12000', 'n:day': '1' }, 'the excess counted');
  await checked(t, e, 'with a forced hold below zero');
  t.match(await ledger.reverse({ idempotencyKey: 'r-meal', txId: 'meal', balanceId: ubId }), { ok: true, movedMinor: 12_050 });
  t.same(await money(e), { ua: 10_100, ub: 0, da: 100_000, db: 0, ka: 0 });
  t.same(await usage(e), { 'a:day': '0', 'n:day': '0' });
});

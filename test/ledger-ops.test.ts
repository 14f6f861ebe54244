// Clearing, credits, internal types, fees/FX, expiry and the checker, each scenario ending with
// the invariant checker. Real redis-server per scenario.
import t, { type Test } from 'tap';
import { Ledger, MAX_AMOUNT_MINOR, holdExpiresAtMs, holdExpiryDays } from '../ledger/index.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { Redis } from 'ioredis';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';

const { scenario, opened } = ledgerScenarios(t);

const DAY = 86_400_000;
const urls = new Map<Ledger, { url: string }>();


interface Env { ledger: Ledger; depId: string; creditId: string; companyId: string; ubId: string }

async function setup(t: Test, funds: { user?: number; deposit?: number; credit?: number } = {}): Promise<Env> {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  opened.set(t, ledger);
  urls.set(ledger, r);
  const depId = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const creditId = (await ledger.createPartnerBalance({ type: 'CREDIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const companyId = (await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: 'cfg' })).balance.id;
  if (funds.deposit) await ledger.reloadPartnerBalance({ id: depId, amountMinor: funds.deposit, idempotencyKey: 'reload-dep' });
  if (funds.credit) await ledger.reloadPartnerBalance({ id: creditId, amountMinor: funds.credit, idempotencyKey: 'reload-credit' });
  const ubId = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' })).id;
  if (funds.user) {
    const top = await ledger.post({ type: 'TOPUP', idempotencyKey: 'topup', txId: 'topup', balanceId: ubId, amountMinor: funds.user, partnerId: null });
    if (!top.ok) throw new Error('setup topup failed');
  }
  return { ledger, depId, creditId, companyId, ubId };
}

const hold = (e: Env, id: string, amount: number, extra: Record<string, unknown> = {}) => ({
  idempotencyKey: 'h-' + id, txId: id, balanceId: e.ubId, depositId: e.depId, amountMinor: amount, expiresAtMs: Date.now() + 7 * DAY, ...extra,
});

scenario('clear: equal, less (rest released), more (excess forced), replay', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.hold(hold(e, 'eq', 100));
  await ledger.hold(hold(e, 'less', 200));
  await ledger.hold(hold(e, 'more', 300));
  t.match(await ledger.clear({ idempotencyKey: 'c-eq', txId: 'eq', balanceId: ubId, amountMinor: 100 }),
    { ok: true, status: 'CLEARED', clearedFromHoldMinor: 100, forcedMinor: 0, releasedMinor: 0 });
  t.match(await ledger.clear({ idempotencyKey: 'c-less', txId: 'less', balanceId: ubId, amountMinor: 150 }),
    { ok: true, status: 'CLEARED', clearedFromHoldMinor: 150, releasedMinor: 50 });
  t.match(await ledger.clear({ idempotencyKey: 'c-more', txId: 'more', balanceId: ubId, amountMinor: 320 }),
    { ok: true, status: 'CLEARED', clearedFromHoldMinor: 300, forcedMinor: 20 });
  t.match(await ledger.clear({ idempotencyKey: 'c-more', txId: 'more', balanceId: ubId, amountMinor: 320 }), { ok: true, replay: true, forcedMinor: 20 });
  // 1000 - 100 - 150 - 320 = 430 left, nothing blocked; the deposit paid the same.
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 430, blockedMinor: 0 });
  t.match(await ledger.getPartnerBalance(e.depId), { availableMinor: 430, blockedMinor: 0 });
  t.match(await ledger.getTransaction(ubId, 'less'), { status: 'CLEARED', clearedMinor: 150, heldMinor: 0, depositHeldMinor: 0 });
  t.match(await ledger.clear({ idempotencyKey: 'c-none', txId: 'none', balanceId: ubId, amountMinor: 5 }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
  const journal = await ledger.readJournal(0);
  const more = journal.find((j) => j.op === 'clear' && j.txId === 'more');
  t.same(more?.postings.map((p) => `${p.from}>${p.to}>${p.amountMinor}>${p.code}`), [
    `U:${ubId}:b>W:scheme>300>CLEAR`, `U:${ubId}:a>W:scheme>20>FORCE`,
    `P:${e.depId}:g00:b>W:deposit>300>CLEAR`, `P:${e.depId}:g00:a>W:deposit>20>FORCE`,
  ], 'the journal lists each posting with its counter-account');
  const page = await ledger.readJournal(0, { afterId: journal[1]!.id, count: 2 });
  t.equal(page[0]?.id, journal[2]?.id);
});

scenario('clear: several partial clearings of one hold, then the final one', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  await ledger.hold(hold(e, 'multi', 500));
  t.match(await ledger.clear({ idempotencyKey: 'p1', txId: 'multi', balanceId: ubId, amountMinor: 100, final: false }),
    { ok: true, status: 'AUTHORIZED', clearedFromHoldMinor: 100, releasedMinor: 0 });
  t.match(await ledger.clear({ idempotencyKey: 'p2', txId: 'multi', balanceId: ubId, amountMinor: 150, final: false }),
    { ok: true, status: 'AUTHORIZED', clearedFromHoldMinor: 150 });
  t.match(await ledger.getTransaction(ubId, 'multi'), { status: 'AUTHORIZED', heldMinor: 250, clearedMinor: 250 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 500, blockedMinor: 250 });
  t.match(await ledger.clear({ idempotencyKey: 'p3', txId: 'multi', balanceId: ubId, amountMinor: 200 }),
    { ok: true, status: 'CLEARED', clearedFromHoldMinor: 200, releasedMinor: 50 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 550, blockedMinor: 0 });
  // A clearing after the hold is gone force-posts the whole amount.
  t.match(await ledger.clear({ idempotencyKey: 'p4', txId: 'multi', balanceId: ubId, amountMinor: 30 }),
    { ok: true, status: 'CLEARED', clearedFromHoldMinor: 0, forcedMinor: 30 });
  t.match(await ledger.getTransaction(ubId, 'multi'), { clearedMinor: 480 });
});

scenario('fees and FX fee: held with the transaction, posted to the company balance at clearing, released on reversal', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId, companyId } = e;
  const h = await ledger.hold(hold(e, 'fee', 200, { feeMinor: 10, fxFeeMinor: 4, companyId }));
  t.match(h, { approved: true, availableMinor: 786, blockedMinor: 214, depositBlockedMinor: 200 });
  t.match(await ledger.clear({ idempotencyKey: 'cf', txId: 'fee', balanceId: ubId, amountMinor: 200 }), { ok: true, feesPostedMinor: 14 });
  t.match(await ledger.getPartnerBalance(companyId), { availableMinor: 14 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 786, blockedMinor: 0 });

  await ledger.hold(hold(e, 'fee2', 100, { feeMinor: 10, companyId }));
  t.match(await ledger.release({ idempotencyKey: 'rf2', txId: 'fee2', balanceId: ubId }), { ok: true, releasedMinor: 110 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 786, blockedMinor: 0 });

  // Without a company balance the fee goes to the world income account; the user pays the same.
  await ledger.hold(hold(e, 'fee3', 100, { feeMinor: 5 }));
  t.match(await ledger.clear({ idempotencyKey: 'cf3', txId: 'fee3', balanceId: ubId, amountMinor: 100 }), { ok: true, feesPostedMinor: 5 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 681 });
  // Fees count against the user's funds at authorization.
  t.match(await ledger.hold(hold(e, 'fee4', 680, { feeMinor: 2, companyId })), { approved: false, reason: 'INSUFFICIENT_FUNDS' });
  t.match(await ledger.hold(hold(e, 'fee5', 1, { companyId: 'pb-COMPANY-EUR-nope' })), { approved: false, reason: 'COMPANY_BALANCE_NOT_FOUND' });
});

scenario('single-message debit and forced post', async (t) => {
  const e = await setup(t, { user: 300, deposit: 1000 });
  const { ledger, ubId } = e;
  t.match(await ledger.debit({ idempotencyKey: 'd1', txId: 'd1', balanceId: ubId, depositId: e.depId, amountMinor: 200, feeMinor: 1, companyId: e.companyId }),
    { approved: true, status: 'CLEARED', availableMinor: 99, blockedMinor: 0 });
  t.match(await ledger.debit({ idempotencyKey: 'd2', txId: 'd2', balanceId: ubId, depositId: e.depId, amountMinor: 200 }),
    { approved: false, reason: 'INSUFFICIENT_FUNDS' });
  t.match(await ledger.debit({ idempotencyKey: 'd3', txId: 'd3', balanceId: ubId, depositId: e.depId, amountMinor: 200, forced: true }),
    { approved: true, status: 'CLEARED', availableMinor: -101 });
  t.match(await ledger.debit({ idempotencyKey: 'd3', txId: 'd3', balanceId: ubId, depositId: e.depId, amountMinor: 200, forced: true }), { replay: true });
  t.match(await ledger.getPartnerBalance(e.depId), { availableMinor: 600, blockedMinor: 0 });
  t.match(await ledger.getPartnerBalance(e.companyId), { availableMinor: 1 });
  t.match(await ledger.clear({ idempotencyKey: 'cd1', txId: 'd1', balanceId: ubId, amountMinor: 200 }), { ok: false, reason: 'TRANSACTION_NOT_OPEN' },
    'a posted transaction is not cleared again');
});

scenario('card credits: refund and payment credit, deposit credited back', async (t) => {
  const e = await setup(t, { user: 100, deposit: 1000 });
  const { ledger, ubId } = e;
  t.match(await ledger.credit({ idempotencyKey: 'rf', txId: 'rf', balanceId: ubId, amountMinor: 40, depositId: e.depId }),
    { ok: true, status: 'CLEARED', availableMinor: 140, partnerAvailableMinor: 1040 });
  t.match(await ledger.credit({ idempotencyKey: 'rf', txId: 'rf', balanceId: ubId, amountMinor: 40, depositId: e.depId }), { ok: true, replay: true, availableMinor: 140 });
  t.match(await ledger.credit({ type: 'PAYMENT_CREDIT', idempotencyKey: 'pc', txId: 'pc', balanceId: ubId, amountMinor: 60, depositId: null }),
    { ok: true, availableMinor: 200 });
  t.match(await ledger.credit({ idempotencyKey: 'rf2', txId: 'rf2', balanceId: ubId, amountMinor: 1, depositId: 'pb-DEPOSIT-EUR-nope' }),
    { ok: false, reason: 'DEPOSIT_BALANCE_NOT_FOUND' });
  t.match(await ledger.credit({ idempotencyKey: 'rf3', txId: 'rf3', balanceId: 'g00:none', amountMinor: 1, depositId: null }),
    { ok: false, reason: 'BALANCE_NOT_FOUND' });
  t.match(await ledger.getTransaction(ubId, 'pc'), { type: 'PAYMENT_CREDIT', status: 'CLEARED', amountMinor: 60 });
  t.equal(await ledger.getPartnerBalance(e.depId).then((b) => b?.availableMinor), 1040);
});

scenario('internal types post to the partner and company balances of the seed', async (t) => {
  const e = await setup(t, { credit: 1000 });
  const { ledger, ubId, creditId, companyId } = e;
  const post = (type: Parameters<Ledger['post']>[0]['type'], amount: number, partnerId: string | null, extra: Record<string, unknown> = {}) =>
    ledger.post({ type, idempotencyKey: 'k-' + type + amount, txId: type + amount, balanceId: ubId, amountMinor: amount, partnerId, ...extra });
  t.match(await post('TOPUP', 300, creditId), { ok: true, availableMinor: 300, partnerAvailableMinor: 700 });
  t.match(await post('TOPUP', 300, creditId), { ok: true, replay: true, availableMinor: 300, partnerAvailableMinor: 700 }, 'a replayed top-up moves nothing');
  t.match(await post('PAYMENT', 100, creditId), { ok: true, availableMinor: 400, partnerAvailableMinor: 600 });
  t.match(await post('LOAN', 100, creditId), { ok: true, availableMinor: 500, partnerAvailableMinor: 500 });
  t.match(await post('CASHBACK', 50, creditId), { ok: true, availableMinor: 550, partnerAvailableMinor: 450 });
  t.match(await post('TOPUP', 451, creditId), { ok: false, reason: 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', partnerAvailableMinor: 450 });
  t.match(await post('TOPUP', 451, creditId), { ok: false, replay: true });
  t.match(await post('FUNDING', 50, creditId), { ok: true, availableMinor: 500, partnerAvailableMinor: 500 });
  t.match(await post('FEE', 20, companyId), { ok: true, availableMinor: 480, partnerAvailableMinor: 20 });
  t.match(await post('COMMISSION', 10, null), { ok: true, availableMinor: 470 });
  t.match(await post('INTEREST', 10, null), { ok: true, availableMinor: 460 });
  t.match(await post('WITHDRAWAL', 60, null), { ok: true, availableMinor: 400 });
  t.match(await post('WITHDRAWAL', 401, null), { ok: false, reason: 'INSUFFICIENT_FUNDS', availableMinor: 400 });
  t.match(await post('WITHDRAWAL', 401, null, { idempotencyKey: 'forced-w', txId: 'forced-w', forced: true }), { ok: true, availableMinor: -1 });
  t.match(await post('TOPUP', 5, 'pb-CREDIT-EUR-none'), { ok: false, reason: 'COLLATERAL_BALANCE_NOT_FOUND' });
  t.match(await post('FEE', 5, 'pb-COMPANY-EUR-none'), { ok: false, reason: 'COMPANY_BALANCE_NOT_FOUND' });
  await t.rejects(post('FEE', 5, creditId), { code: 'LEDGER_ERR_INVALID_ARGUMENT' });
  t.match(await post('TOPUP', 5, null, { idempotencyKey: 'k-world', txId: 'world-topup' }), { ok: true, availableMinor: 4 }, 'no credit balance: from the world (creditRequired false)');
  const hist = await ledger.history(ubId, { limit: 3 });
  t.same(hist.items.map((x) => x.type), ['TOPUP', 'WITHDRAWAL', 'WITHDRAWAL']);
  t.equal(hist.next, 3);
  const summary = await ledger.summary();
  const report = await checkLedger(ledger.redis);
  const eur = report.currencies.EUR!;
  t.same(summary.EUR, {
    usersMinor: Number(eur.userAvailableMinor + eur.userBlockedMinor),
    partnersMinor: Number(eur.partnerAvailableMinor + eur.partnerBlockedMinor),
    walletMinor: Number(eur.userAvailableMinor + eur.userBlockedMinor + eur.partnerAvailableMinor + eur.partnerBlockedMinor),
  }, 'summary agrees with the balances themselves');
  t.equal(summary.EUR?.usersMinor, 4);
  const all = await ledger.history(ubId, { limit: 100 });
  t.equal(all.items.length, 11);
  t.equal(all.next, null);
});

scenario('hold expiry: sweeper releases due holds once, concurrent sweepers agree', async (t) => {
  const e = await setup(t, { user: 1000, deposit: 1000 });
  const { ledger, ubId } = e;
  const r = urls.get(ledger)!;
  const now = Date.now();
  for (let i = 0; i < 20; i++) await ledger.hold(hold(e, 'x' + i, 10, { expiresAtMs: now + (i < 15 ? 1000 : 10 * DAY) }));
  await ledger.hold(hold(e, 'part', 100, { expiresAtMs: now + 1000 }));
  await ledger.clear({ idempotencyKey: 'cpart', txId: 'part', balanceId: ubId, amountMinor: 40, final: false });
  await ledger.release({ idempotencyKey: 'rv0', txId: 'x0', balanceId: ubId });
  t.match(await ledger.sweepExpired(now), { expired: 0 }, 'nothing due yet');
  // Four sweepers on their own connections, as several switch processes would be.
  const sweepers = await Promise.all([1, 2, 3, 4].map(async () => {
    const c = new Redis(r.url, { enableAutoPipelining: true });
    t.teardown(() => c.disconnect());
    return Ledger.open(c);
  }));
  const sweeps = await Promise.all(sweepers.map((l) => l.sweepExpired(now + 2000, 100)));
  t.equal(sweeps.reduce((s, x) => s + x.expired, 0), 15, '14 holds + the partly cleared one, each once');
  t.match(await ledger.getTransaction(ubId, 'x1'), { status: 'EXPIRED', heldMinor: 0, depositHeldMinor: 0 });
  t.match(await ledger.getTransaction(ubId, 'x0'), { status: 'REVERSED' });
  t.match(await ledger.getTransaction(ubId, 'x19'), { status: 'AUTHORIZED' });
  t.match(await ledger.getTransaction(ubId, 'part'), { status: 'CLEARED', clearedMinor: 40 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 910, blockedMinor: 50 });
  t.match(await ledger.release({ idempotencyKey: 'rv1', txId: 'x1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', releasedMinor: 0 });
  t.match(await ledger.sweepExpired(now + 2000), { expired: 0 });
});

t.test('hold expiry helper: program days, MCC overrides and ranges', async (t) => {
  t.equal(holdExpiryDays({}, '5411'), 7);
  t.equal(holdExpiryDays({}, '7011'), 30);
  t.equal(holdExpiryDays({}, '3600'), 30);
  t.equal(holdExpiryDays({ holdExpiryDays: 5, holdExpiryDaysByMcc: { '7011': 20 } }, '7011'), 20);
  t.equal(holdExpiryDays({ holdExpiryDays: 5, holdExpiryDaysByMcc: { '7011': 20 } }, '3600'), 5);
  t.equal(holdExpiryDays({ holdExpiryDays: 5 }, null), 5);
  t.equal(holdExpiresAtMs({ holdExpiryDays: 2 }, '5411', 1000), 1000 + 2 * DAY);
});

scenario('the checker finds tampering', async (t) => {
  const e = await setup(t, { user: 500, deposit: 500 });
  const { ledger, ubId } = e;
  await ledger.hold(hold(e, 'a', 100));
  t.ok((await checkLedger(ledger.redis)).ok);
  await ledger.redis.hincrby(`{g00}:ub:${ubId}`, 'a', 7);
  const bad = await checkLedger(ledger.redis);
  t.equal(bad.ok, false);
  t.match(bad.errors.join('\n'), /stored 407 but its postings sum to 400/);
  t.match(bad.errors.join('\n'), /not conserved, balances and world accounts sum to 7/);
  t.match(formatReport(bad), /FAILED/);
  await ledger.redis.hincrby(`{g00}:ub:${ubId}`, 'a', -7);
  await ledger.redis.hset(`{g00}:tx:${ubId}:a`, 'h', '90');
  t.match((await checkLedger(ledger.redis)).errors.join('\n'), /blocked 100 but open holds total 90/);
  await ledger.redis.hset(`{g00}:tx:${ubId}:a`, 'h', '100');
});

scenario('amounts up to MAX_AMOUNT_MINOR (n12) stay exact', async (t) => {
  const big = MAX_AMOUNT_MINOR;
  const e = await setup(t, { user: big, deposit: big });
  const { ledger, ubId } = e;
  t.match(await ledger.hold(hold(e, 'big', big - 1)), { approved: true, availableMinor: 1, blockedMinor: big - 1 });
  t.match(await ledger.hold(hold(e, 'big', big - 1)), { replay: true, availableMinor: 1, blockedMinor: big - 1 });
  t.match(await ledger.clear({ idempotencyKey: 'cb', txId: 'big', balanceId: ubId, amountMinor: big - 1 }), { ok: true, availableMinor: 1 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 1, blockedMinor: 0 });
});

// One row per decline reason of SPEC §2.4 that the ledger decides.
scenario('decline reasons owned by the ledger, one row each, nothing moves', async (t) => {
  const e = await setup(t, { user: 100, deposit: 50, credit: 10 });
  const { ledger, ubId } = e;
  const usd = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'USD', configId: 'cfg' })).balance.id;
  const base = { balanceId: ubId, expiresAtMs: Date.now() + DAY };
  const rows: [string, () => Promise<{ reason: string }>][] = [
    ['INSUFFICIENT_FUNDS', () => ledger.hold({ ...base, idempotencyKey: 'r1', txId: 'r1', depositId: null, amountMinor: 101 })],
    ['INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', () => ledger.hold({ ...base, idempotencyKey: 'r2', txId: 'r2', depositId: e.depId, amountMinor: 51 })],
    ['INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE', () => ledger.post({ type: 'TOPUP', idempotencyKey: 'r3', txId: 'r3', balanceId: ubId, amountMinor: 11, partnerId: e.creditId })],
    ['DEPOSIT_BALANCE_NOT_FOUND', () => ledger.hold({ ...base, idempotencyKey: 'r4', txId: 'r4', depositId: 'pb-DEPOSIT-EUR-none', amountMinor: 1 })],
    ['COLLATERAL_BALANCE_NOT_FOUND', () => ledger.post({ type: 'CASHBACK', idempotencyKey: 'r5', txId: 'r5', balanceId: ubId, amountMinor: 1, partnerId: 'pb-CREDIT-EUR-none' })],
    ['BALANCE_NOT_FOUND', () => ledger.hold({ ...base, balanceId: 'g00:none', idempotencyKey: 'r6', txId: 'r6', depositId: null, amountMinor: 1 })],
    ['CURRENCY_MISMATCH', () => ledger.hold({ ...base, idempotencyKey: 'r7', txId: 'r7', depositId: usd, amountMinor: 1 })],
    ['INVALID_AMOUNT', async () => {
      await ledger.hold({ ...base, idempotencyKey: 'r8h', txId: 'r8', depositId: null, amountMinor: 10 });
      const r = await ledger.release({ idempotencyKey: 'r8', txId: 'r8', balanceId: ubId, newAmountMinor: 11 });
      await ledger.release({ idempotencyKey: 'r8x', txId: 'r8', balanceId: ubId });
      return r;
    }],
  ];
  for (const [reason, call] of rows) t.equal((await call()).reason, reason, reason);
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 100, blockedMinor: 0 });
  t.match(await ledger.getPartnerBalance(e.depId), { availableMinor: 50, blockedMinor: 0 });
  t.match(await ledger.getPartnerBalance(e.creditId), { availableMinor: 10 });
  await t.rejects(ledger.post({ type: 'TOPUP', idempotencyKey: 'r9', txId: 'r9', balanceId: ubId, amountMinor: 0, partnerId: null }), { code: 'LEDGER_ERR_INVALID_AMOUNT' });
});

t.test('balanceHistory false (as the switch opens its ledger): holds and posts write no history list, history() says so', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { balanceHistory: false });
  const bal = await ledger.createUserBalance({ customerId: 'no-hist', currency: 'EUR', configId: 'cfg' });
  await r.client.config('RESETSTAT');
  t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'nh-top', txId: 'nh-top', balanceId: bal.id, amountMinor: 1_000, partnerId: null }), { ok: true });
  const now = Date.now();
  t.match(await ledger.hold({ idempotencyKey: null, txId: 'nh-h1', balanceId: bal.id, depositId: null, amountMinor: 100, nowMs: now, expiresAtMs: now + 60_000 }), { approved: true });
  t.match(await ledger.debit({ idempotencyKey: null, txId: 'nh-p1', balanceId: bal.id, depositId: null, amountMinor: 50, nowMs: now }), { approved: true });
  t.same(await r.client.keys('*hist:*'), [], 'no history list');
  t.notMatch(await r.client.info('commandstats'), /cmdstat_lpush:/, 'no LPUSH at all');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 850, blockedMinor: 100 }, 'the money moved as ever');
  await t.rejects(ledger.history(bal.id), { code: 'LEDGER_ERR_INVALID_ARGUMENT' }, 'history() of such a ledger is an error, not an empty page');
  t.ok((await checkLedger(r.client)).ok, 'ledger check passes');
});

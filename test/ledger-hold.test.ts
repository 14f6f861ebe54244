import t, { type Test } from 'tap';
import { Ledger } from '../ledger/index.js';
import { loadScripts, projectRoot } from '../ledger/scripts.js';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';
import { checkLedger } from '../ledger/check.js';

const { scenario, opened } = ledgerScenarios(t);

const DAY = 86_400_000;

scenario('balances: create, find, reload, idempotent create', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  opened.set(t, ledger);
  const ub = await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg', idempotencyKey: 'cb-1' });
  t.match(ub.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a user balance id is a UUID v4');
  t.equal(ub.availableMinor, 0);
  const again = await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg', idempotencyKey: 'cb-1' });
  t.equal(again.id, ub.id);
  t.equal(again.replay, true);
  t.same(await ledger.listUserBalances('c1'), [ub.id]);
  t.equal(await ledger.getUserBalance('g00:nope'), null);
  t.equal(await ledger.getUserBalance('garbage'), null);

  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' });
  t.equal(dep.created, true);
  t.equal(dep.balance.id, 'pb-DEPOSIT-EUR-cfg');
  const dep2 = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' });
  t.equal(dep2.created, false);
  t.equal((await ledger.findPartnerBalance('cfg', 'DEPOSIT', 'EUR'))?.id, dep.balance.id);
  t.equal(await ledger.findPartnerBalance('cfg', 'CREDIT', 'EUR'), null);

  const rl = await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 10_000, idempotencyKey: 'rl-1' });
  t.equal(rl.ok, true);
  t.equal(rl.replay, false);
  t.equal(rl.balance?.availableMinor, 10_000);
  const rl2 = await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 10_000, idempotencyKey: 'rl-1' });
  t.equal(rl2.replay, true);
  t.equal(rl2.balance?.availableMinor, 10_000);
  const missing = await ledger.reloadPartnerBalance({ id: 'pb-CREDIT-EUR-cfg', amountMinor: 5, idempotencyKey: 'rl-2' });
  t.equal(missing.ok, false);
  t.equal(missing.reason, 'PARTNER_BALANCE_NOT_FOUND');
});

async function setup(t: Test, funds: { user: number; deposit: number }) {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  opened.set(t, ledger);
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' });
  if (funds.deposit > 0) await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: funds.deposit, idempotencyKey: 'dep-reload' });
  const ub = await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' });
  if (funds.user > 0) {
    await ledger.post({ type: 'TOPUP', idempotencyKey: 'topup', txId: 'topup', balanceId: ub.id, amountMinor: funds.user, partnerId: null });
  }
  return { r, ledger, depId: dep.balance.id, ubId: ub.id };
}

const hold = (id: string, bal: string, dep: string | null, amount: number, extra: Record<string, unknown> = {}) => ({
  idempotencyKey: 'h-' + id, txId: id, balanceId: bal, depositId: dep, amountMinor: amount, expiresAtMs: Date.now() + 7 * DAY, ...extra,
});

scenario('deposit-then-user hold: approve, replay, declines in order', async (t) => {
  const { ledger, depId, ubId } = await setup(t, { user: 1000, deposit: 700 });
  const a = await ledger.hold(hold('t1', ubId, depId, 400, { meta: { mcc: '5411' } }));
  t.match(a, { approved: true, reason: 'APPROVED', replay: false, status: 'AUTHORIZED', availableMinor: 600, blockedMinor: 400, depositAvailableMinor: 300, depositBlockedMinor: 400 });
  const again = await ledger.hold(hold('t1', ubId, depId, 400, { meta: { mcc: '5411' } }));
  t.match(again, { approved: true, replay: true, availableMinor: 600, blockedMinor: 400 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 600, blockedMinor: 400 });
  const tx = await ledger.getTransaction(ubId, 't1');
  t.match(tx, { status: 'AUTHORIZED', amountMinor: 400, heldMinor: 400, depositHeldMinor: 400, depositId: depId, meta: { mcc: '5411' } });

  // The deposit is checked first: 350 > 300 left on the deposit although the user has 600.
  const d = await ledger.hold(hold('t2', ubId, depId, 350));
  t.match(d, { approved: false, reason: 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE', depositAvailableMinor: 300, availableMinor: 600 });
  t.equal(await ledger.getTransaction(ubId, 't2'), null, 'a decline leaves no transaction');
  t.match(await ledger.hold(hold('t2', ubId, depId, 350)), { approved: false, replay: true, reason: 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE' });

  await ledger.reloadPartnerBalance({ id: depId, amountMinor: 5000, idempotencyKey: 'more' });
  const u = await ledger.hold(hold('t3', ubId, depId, 601));
  t.match(u, { approved: false, reason: 'INSUFFICIENT_FUNDS', availableMinor: 600 });
  t.match(await ledger.getPartnerBalance(depId), { availableMinor: 5300, blockedMinor: 400 }, 'nothing written on a user decline');

  t.match(await ledger.hold(hold('t4', ubId, depId, 600)), { approved: true, availableMinor: 0 });
  t.match(await ledger.hold(hold('t1', ubId, depId, 5, { idempotencyKey: 'other' })), { approved: false, reason: 'TRANSACTION_EXISTS' });
  t.match(await ledger.hold(hold('t9', ubId, depId, 5, { idempotencyKey: 'h-t1' })), { approved: false, reason: 'IDEMPOTENCY_CONFLICT' });
});

scenario('idempotency by transaction (idempotencyKey null): the transaction hash is the record', async (t) => {
  const { ledger, depId, ubId, r } = await setup(t, { user: 1000, deposit: 10_000 });
  const byTx = (id: string, amount: number, extra: Record<string, unknown> = {}) => hold(id, ubId, depId, amount, { idempotencyKey: null, ...extra });
  const idemKeys = async () => (await r.client.keys('*idem:*')).sort();
  const before = await idemKeys();
  await r.client.config('RESETSTAT');
  t.match(await ledger.hold(byTx('k1', 300)), { approved: true, replay: false, availableMinor: 700, blockedMinor: 300, depositAvailableMinor: 9_700 });
  t.same(await idemKeys(), before, 'no idempotency key is written');
  t.notMatch(await r.client.info('commandstats'), /cmdstat_set:/, 'no SET at all: one write less per approval');
  t.match(await ledger.hold(byTx('k1', 300)), { approved: true, replay: true, availableMinor: 700, blockedMinor: 300, depositAvailableMinor: 9_700 }, 'asked again: the first result, as a replay');
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 700, blockedMinor: 300 }, 'held once');
  t.match(await ledger.getTransaction(ubId, 'k1'), { status: 'AUTHORIZED', heldMinor: 300, meta: {} }, 'the transaction reads as any other');

  const [first, repeat] = await Promise.all([ledger.hold(byTx('k2', 100)), ledger.hold(byTx('k2', 100))]);
  t.match(first, { approved: true, replay: false });
  t.match(repeat, { approved: true, replay: true, availableMinor: 600 }, 'a repeat in the same call is a replay too');

  t.match(await ledger.hold(byTx('k3', 5_000)), { approved: false, reason: 'INSUFFICIENT_FUNDS', replay: false });
  t.match(await ledger.hold(byTx('k3', 5_000)), { approved: false, reason: 'INSUFFICIENT_FUNDS', replay: false }, 'a decline is not remembered: decided again');
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'more', txId: 'more', balanceId: ubId, amountMinor: 5_000, partnerId: null });
  t.match(await ledger.hold(byTx('k3', 5_000)), { approved: true, replay: false }, 'and approved once the funds are there');

  t.match(await ledger.debit({ ...byTx('k1', 300) }), { approved: false, reason: 'TRANSACTION_EXISTS' }, 'another operation on the transaction is no replay');
  t.match(await ledger.hold(byTx('k1', 300, { idempotencyKey: 'h-k1' })), { approved: false, reason: 'TRANSACTION_EXISTS' }, 'nor is the same hold under a key');
  t.match(await ledger.debit(byTx('p1', 50)), { approved: true, status: 'CLEARED', replay: false });
  t.match(await ledger.debit(byTx('p1', 50)), { approved: true, status: 'CLEARED', replay: true }, 'a single-message debit likewise');

  // Undone since (a message answered 96 after its hold landed): asked again, not approved again.
  await ledger.reverse({ idempotencyKey: 'undo:k2', txId: 'k2', balanceId: ubId, rememberOrphan: true });
  const held = (await ledger.getUserBalance(ubId))?.blockedMinor;
  t.match(await ledger.hold(byTx('k2', 100)), { approved: false, reason: 'ALREADY_REVERSED', replay: false, status: 'REVERSED' }, 'a reversed transaction is not replayed as approved');
  t.equal((await ledger.getUserBalance(ubId))?.blockedMinor, held, 'and nothing is held for it');
  await ledger.reverse({ idempotencyKey: 'undo:p1', txId: 'p1', balanceId: ubId, rememberOrphan: true });
  t.match(await ledger.debit(byTx('p1', 50)), { approved: false, reason: 'ALREADY_REVERSED' }, 'nor a posted debit credited back');
  t.ok((await checkLedger(r.client)).ok, 'ledger check passes');
});

scenario('hold: not-found, currency and amount checks', async (t) => {
  const { ledger, depId, ubId } = await setup(t, { user: 1000, deposit: 1000 });
  t.match(await ledger.hold(hold('x1', 'g00:missing', depId, 1)), { approved: false, reason: 'BALANCE_NOT_FOUND' });
  t.match(await ledger.hold(hold('x2', ubId, 'pb-DEPOSIT-EUR-nope', 1)), { approved: false, reason: 'DEPOSIT_BALANCE_NOT_FOUND' });
  const usd = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'USD', configId: 'cfg' });
  await ledger.reloadPartnerBalance({ id: usd.balance.id, amountMinor: 1000, idempotencyKey: 'usd' });
  t.match(await ledger.hold(hold('x3', ubId, usd.balance.id, 1)), { approved: false, reason: 'CURRENCY_MISMATCH' });
  for (const bad of [0, -1, 1.5, NaN]) {
    await t.rejects(ledger.hold(hold('x4', ubId, depId, bad)), { code: 'LEDGER_ERR_INVALID_AMOUNT' });
  }
  for (const big of [999_999_999_999 + 1, Number.MAX_SAFE_INTEGER + 1]) {
    await t.rejects(ledger.hold(hold('x4', ubId, depId, big)), { code: 'LEDGER_ERR_AMOUNT_TOO_LARGE' }, 'above n12');
  }
  await t.rejects(ledger.hold(hold('x5', 'nogroup', depId, 1)), { code: 'LEDGER_ERR_INVALID_BALANCE_ID' });
  await t.rejects(ledger.hold(hold('x|6', ubId, depId, 1)), { code: 'LEDGER_ERR_INVALID_ID' });
  await t.rejects(ledger.hold(hold('x7', ubId, 'pb-CREDIT-EUR-cfg', 1)), { code: 'LEDGER_ERR_INVALID_ARGUMENT' }, 'a credit balance is not a deposit');
  await t.rejects(ledger.hold(hold('x8', ubId, depId, 1, { companyId: depId })), { code: 'LEDGER_ERR_INVALID_ARGUMENT' });
  await t.rejects(ledger.credit({ idempotencyKey: 'x9', txId: 'x9', balanceId: ubId, amountMinor: 1, depositId: 'pb-COMPANY-EUR-cfg' }), { code: 'LEDGER_ERR_INVALID_ARGUMENT' });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 1000, blockedMinor: 0 });
});

scenario('hold without deposit, forced hold may go negative', async (t) => {
  const { ledger, ubId } = await setup(t, { user: 100, deposit: 0 });
  t.match(await ledger.hold(hold('n1', ubId, null, 60)), { approved: true, availableMinor: 40, depositAvailableMinor: 0 });
  t.match(await ledger.hold(hold('n2', ubId, null, 60)), { approved: false, reason: 'INSUFFICIENT_FUNDS' });
  t.match(await ledger.hold(hold('n3', ubId, null, 60, { forced: true })), { approved: true, availableMinor: -20, blockedMinor: 120 });
});

scenario('release: full, partial, second reversal moves nothing, replay', async (t) => {
  const { ledger, depId, ubId } = await setup(t, { user: 1000, deposit: 1000 });
  await ledger.hold(hold('r1', ubId, depId, 300));
  await ledger.hold(hold('r2', ubId, depId, 200));

  const full = await ledger.release({ idempotencyKey: 'rv-1', txId: 'r1', balanceId: ubId });
  t.match(full, { ok: true, reason: 'APPROVED', replay: false, status: 'REVERSED', releasedMinor: 300, depositReleasedMinor: 300, availableMinor: 800, blockedMinor: 200 });
  t.match(await ledger.release({ idempotencyKey: 'rv-1', txId: 'r1', balanceId: ubId }), { ok: true, replay: true, releasedMinor: 300 });
  t.match(await ledger.release({ idempotencyKey: 'rv-1b', txId: 'r1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', releasedMinor: 0 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 800, blockedMinor: 200 });

  const part = await ledger.release({ idempotencyKey: 'rv-2', txId: 'r2', balanceId: ubId, newAmountMinor: 50 });
  t.match(part, { ok: true, status: 'AUTHORIZED', releasedMinor: 150, depositReleasedMinor: 150, availableMinor: 950, blockedMinor: 50, amountMinor: 50 });
  t.match(await ledger.release({ idempotencyKey: 'rv-2b', txId: 'r2', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', releasedMinor: 0 });
  t.match(await ledger.getTransaction(ubId, 'r2'), { status: 'AUTHORIZED', amountMinor: 50, heldMinor: 50, depositHeldMinor: 50 });
  t.match(await ledger.getPartnerBalance(depId), { availableMinor: 950, blockedMinor: 50 });

  await ledger.hold(hold('r3', ubId, depId, 100));
  t.match(await ledger.release({ idempotencyKey: 'rv-3', txId: 'r3', balanceId: ubId, newAmountMinor: 101 }), { ok: false, reason: 'INVALID_AMOUNT', releasedMinor: 0 });
  t.match(await ledger.release({ idempotencyKey: 'rv-4', txId: 'nope', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
  await t.rejects(ledger.release({ idempotencyKey: 'rv-5', txId: 'r3', balanceId: ubId, newAmountMinor: -1 }), { code: 'LEDGER_ERR_INVALID_AMOUNT' });
});


scenario('scripts survive SCRIPT FLUSH (NOSCRIPT recovery) and are found from dist/ too', async (t) => {
  const { ledger, depId, ubId } = await setup(t, { user: 100, deposit: 100 });
  await ledger.hold(hold('s1', ubId, depId, 10));
  await ledger.redis.script('FLUSH');
  t.match(await ledger.hold(hold('s2', ubId, depId, 10)), { approved: true, availableMinor: 80 });
  t.match(await ledger.release({ idempotencyKey: 'rs2', txId: 's2', balanceId: ubId }), { ok: true, releasedMinor: 10 });
  const root = projectRoot();
  t.equal(projectRoot(pathToFileURL(join(root, 'dist', 'ledger', 'scripts.js')).href), root);
  t.ok(loadScripts().some((s) => s.name === 'hold-deposit-then-user' && s.numberOfKeys === 12 && !/^--- @include/m.test(s.lua)));
});

scenario('a reversal before its authorization is remembered: the late original holds nothing', async (t) => {
  const { ledger, depId, ubId } = await setup(t, { user: 100, deposit: 100 });
  t.match(await ledger.release({ idempotencyKey: 'plain-rv', txId: 'plain', balanceId: ubId }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
  t.equal(await ledger.getTransaction(ubId, 'plain'), null, 'without rememberOrphan nothing is recorded');
  t.match(await ledger.release({ idempotencyKey: 'orphan-rv', txId: 'late', balanceId: ubId, rememberOrphan: true }), { ok: false, reason: 'TRANSACTION_NOT_FOUND', releasedMinor: 0 });
  t.match(await ledger.getTransaction(ubId, 'late'), { status: 'REVERSED', type: 'ORPHAN_REVERSAL', amountMinor: 0 });
  t.match(await ledger.hold(hold('late', ubId, depId, 10)), { approved: false, reason: 'ALREADY_REVERSED', status: 'REVERSED', availableMinor: 100 });
  t.match(await ledger.hold(hold('late', ubId, depId, 10)), { approved: false, replay: true, reason: 'ALREADY_REVERSED' });
  t.match(await ledger.release({ idempotencyKey: 'orphan-rv2', txId: 'late', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED', releasedMinor: 0 });
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 100, blockedMinor: 0 });
  t.match(await ledger.getPartnerBalance(depId), { availableMinor: 100, blockedMinor: 0 });
  t.match(await ledger.release({ idempotencyKey: 'orphan-rv3', txId: 'x', balanceId: 'g00:none', rememberOrphan: true }), { ok: false, reason: 'TRANSACTION_NOT_FOUND' });
});

scenario('holds asked for in one tick go as one hold-many call, each decided on its own', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  opened.set(t, ledger);
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' });
  await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: 10_000, idempotencyKey: 'hm-dep' });
  const a = await ledger.createUserBalance({ customerId: 'hm-a', currency: 'EUR', configId: 'cfg' });
  const b = await ledger.createUserBalance({ customerId: 'hm-b', currency: 'EUR', configId: 'cfg' });
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'hm-ta', txId: 'hm-ta', balanceId: a.id, amountMinor: 1_000, partnerId: null });
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'hm-tb', txId: 'hm-tb', balanceId: b.id, amountMinor: 1_000, partnerId: null });
  await r.client.config('RESETSTAT');
  const exp = Date.now() + DAY;
  const [h1, h2, h3, h4, h5, h1again] = await Promise.all([
    ledger.hold({ idempotencyKey: 'hm-1', txId: 'hm-1', balanceId: a.id, depositId: dep.balance.id, amountMinor: 600, expiresAtMs: exp, meta: { mcc: '5411' } }),
    ledger.hold({ idempotencyKey: 'hm-2', txId: 'hm-2', balanceId: a.id, depositId: dep.balance.id, amountMinor: 600, expiresAtMs: exp }),
    ledger.hold({ idempotencyKey: 'hm-3', txId: 'hm-3', balanceId: b.id, depositId: null, amountMinor: 300, expiresAtMs: exp }),
    ledger.debit({ idempotencyKey: 'hm-4', txId: 'hm-4', balanceId: b.id, depositId: dep.balance.id, amountMinor: 200 }),
    ledger.hold({ idempotencyKey: 'hm-5', txId: 'hm-5', balanceId: b.id, depositId: dep.balance.id, amountMinor: 5_000, forced: true, expiresAtMs: exp }),
    ledger.hold({ idempotencyKey: 'hm-1', txId: 'hm-1', balanceId: a.id, depositId: dep.balance.id, amountMinor: 600, expiresAtMs: exp, meta: { mcc: '5411' } }),
  ]);
  t.match(h1, { approved: true, availableMinor: 400 }, 'the first hold on a');
  t.match(h2, { approved: false, reason: 'INSUFFICIENT_FUNDS', availableMinor: 400 }, 'the second sees the first');
  t.match(h3, { approved: true, availableMinor: 700, depositAvailableMinor: 0 }, 'a hold without a deposit');
  t.match(h4, { approved: true, status: 'CLEARED', availableMinor: 500 }, 'a single-message debit in the same call');
  t.match(h5, { approved: true, availableMinor: -4_500 }, 'a forced hold');
  t.match(h1again, { approved: true, replay: true }, 'the same key twice in one call: the second is a replay');
  t.equal((await ledger.getTransaction(a.id, 'hm-1'))?.meta.mcc, '5411', 'meta is kept');
  const stats = await r.client.info('commandstats');
  t.match(stats, /cmdstat_evalsha:calls=1,/, 'one script call for the six');
});

scenario('a guarded hold: a changed hash or a present key does nothing; an unchanged one holds', async (t) => {
  const { ledger, depId, ubId, r } = await setup(t, { user: 1_000, deposit: 1_000 });
  await r.client.hset('card:test', 'st', 'ACTIVE', 'lk', '0');
  const guard = (expected: string[], absentKey: string | null = 'dup:test') => ({ hashKey: 'card:test', fields: ['st', 'lk', 'db'], expected, absentKey });
  // Alone and coalesced with another hold in one hold-many call.
  const [changed, plain] = await Promise.all([
    ledger.hold(hold('g1', ubId, depId, 100, { guard: guard(['ACTIVE', '5', '']) })).catch((e: unknown) => e),
    ledger.hold(hold('g0', ubId, depId, 100)),
  ]);
  t.match(changed, { name: 'PreconditionFailedError', which: 'CHANGED', code: 'LEDGER_ERR_PRECONDITION' }, 'a lock the caller did not see refuses the hold');
  t.match(plain, { approved: true, availableMinor: 900 }, 'the other hold of the call is decided as usual');
  t.equal(await ledger.getTransaction(ubId, 'g1'), null, 'nothing written for the refused one');
  await r.client.set('dup:test', 'x');
  t.match(await ledger.hold(hold('g2', ubId, depId, 100, { guard: guard(['ACTIVE', '0', '']) })).catch((e: unknown) => e), { which: 'PRESENT' }, 'a present key refuses it');
  t.match(await ledger.hold(hold('g3', ubId, depId, 100, { guard: guard(['ACTIVE', '0', ''], null) })), { approved: true, availableMinor: 800 }, 'the state the caller saw: held');
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 800, blockedMinor: 200 });
  t.rejects(ledger.hold(hold('g4', ubId, depId, 100, { guard: { hashKey: 'card:test', fields: ['a|b'], expected: ['x'], absentKey: null } })), { code: 'LEDGER_ERR_INVALID_ARGUMENT' });
});

scenario('a guarded hold consumes a sequence number (a chip read\'s ATC): only upwards, once, even when copies race', async (t) => {
  const { ledger, depId, ubId, r } = await setup(t, { user: 1_000, deposit: 1_000 });
  await r.client.hset('card:test', 'id', 'c1', 'v', '1');
  const guard = (value: number, owner: string) => ({
    hashKey: 'card:test', fields: ['id', 'v'], expected: ['c1', '1'], absentKey: null, sequence: { field: 'ac', ownerField: 'am', value, owner },
  });
  const seq = async () => r.client.hmget('card:test', 'ac', 'am');
  t.match(await ledger.hold(hold('s1', ubId, depId, 100, { guard: guard(5, 's1') })), { approved: true, availableMinor: 900 }, 'ATC 5: held');
  t.same(await seq(), ['5', 's1'], 'consumed, by its transaction');
  t.match(await ledger.hold(hold('s2', ubId, depId, 100, { guard: guard(5, 's2') })).catch((e: unknown) => e), { name: 'PreconditionFailedError', which: 'REPLAYED' }, 'ATC 5 again, another transaction: refused');
  t.match(await ledger.hold(hold('s3', ubId, depId, 100, { guard: guard(4, 's3') })).catch((e: unknown) => e), { which: 'REPLAYED' }, 'a lower one: refused');
  t.equal(await ledger.getTransaction(ubId, 's2'), null, 'nothing written for a refused one');
  t.match(await ledger.hold(hold('s1', ubId, depId, 100, { guard: guard(5, 's1') })), { approved: true, replay: true }, 'the same transaction decided again passes (its own ATC): a replay of its hold');
  t.match(await ledger.hold(hold('s4', ubId, depId, 5_000, { guard: guard(6, 's4') })), { approved: false, reason: 'INSUFFICIENT_FUNDS' }, 'ATC 6, short of money: declined');
  t.same(await seq(), ['6', 's4'], 'its ATC consumed all the same (the card counted it)');
  const racing = await Promise.all(Array.from({ length: 8 }, (_, i) => ledger.hold(hold(`race${i}`, ubId, depId, 10, { guard: guard(7, `race${i}`) })).catch((e: unknown) => e)));
  t.equal(racing.filter((x) => (x as { approved?: boolean }).approved === true).length, 1, 'eight copies of ATC 7 in one call: one held');
  t.equal(racing.filter((x) => (x as { which?: string }).which === 'REPLAYED').length, 7, 'the seven others refused as replays');
  t.match(await ledger.getUserBalance(ubId), { availableMinor: 890, blockedMinor: 110 }, 'two holds, nothing else');
  for (const bad of [{ value: -1, owner: 'x' }, { value: 1.5, owner: 'x' }, { value: 8, owner: 'a|b' }, { value: 8, owner: '' }]) {
    await t.rejects(ledger.hold(hold('s9', ubId, depId, 10, { guard: { ...guard(0, ''), sequence: { field: 'ac', ownerField: 'am', ...bad } } })), { code: 'LEDGER_ERR_INVALID_ARGUMENT' }, `sequence ${JSON.stringify(bad)}: refused before Redis`);
  }
});

t.test('balance ids: a UUID v4 names its slot group; ids of the earlier gNN: form still do', async (t) => {
  const { Keyspace } = await import('../ledger/keys.js');
  for (const groups of [1, 3, 16, 100]) {
    const k = new Keyspace(groups);
    for (let g = 0; g < groups; g++) {
      for (let i = 0; i < 5; i++) {
        const id = k.newBalanceId(g);
        if (!/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(id) || k.groupOfBalance(id) !== g) {
          t.fail(`groups ${groups}: ${id} is not a UUID v4 of group ${g}`);
          return;
        }
      }
    }
    t.pass(`groups ${groups}: every fresh id is a UUID v4 in the group asked for`);
  }
  const k16 = new Keyspace(16);
  t.equal(k16.groupOfBalance('g07:KUG0-X8Apz2y'), 7, 'an id written before UUIDs keeps its group');
  t.equal(k16.groupOfBalance('not-a-balance'), -1);
});

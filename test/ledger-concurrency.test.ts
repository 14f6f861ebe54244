// 20,000 concurrent holds of random amounts on one user balance and one deposit from 8
// connections: the order is unknown, so the test checks what must hold in every order.
import t from 'tap';
import { Redis } from 'ioredis';
import { Ledger, type HoldResult } from '../ledger/index.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { startTestRedis } from './helpers/redis.js';

t.test('20,000 concurrent holds approve exactly what the funds allow', async (t) => {
  const r = await startTestRedis(t, { appendfsync: 'always' });
  const setup = await Ledger.open(r.client);
  const USER_FUNDS = 600_000;
  const DEPOSIT_FUNDS = 500_000;
  const dep = (await setup.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  await setup.reloadPartnerBalance({ id: dep, amountMinor: DEPOSIT_FUNDS, idempotencyKey: 'reload' });
  const ub = (await setup.createUserBalance({ customerId: 'c', currency: 'EUR', configId: 'cfg' })).id;
  await setup.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: ub, amountMinor: USER_FUNDS, partnerId: null });

  const clients = Array.from({ length: 8 }, () => new Redis(r.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }));
  t.teardown(() => { for (const c of clients) c.disconnect(); });
  const ledgers = await Promise.all(clients.map((c) => Ledger.open(c)));

  // The user pays amount + fee, the deposit the amount: either can be the one that runs out first.
  let seed = 12345;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  const N = 20_000;
  const reqs = Array.from({ length: N }, (_, i) => ({ amount: 1 + (rnd() % 100), fee: rnd() % 3, i }));
  const expiresAtMs = Date.now() + 86_400_000;
  const results: HoldResult[] = await Promise.all(reqs.map((q) => ledgers[q.i % 8]!.hold({
    idempotencyKey: 'k' + q.i, txId: 't' + q.i, balanceId: ub, depositId: dep, amountMinor: q.amount, feeMinor: q.fee, expiresAtMs,
  })));

  let userSpent = 0;
  let depositSpent = 0;
  let approved = 0;
  let badDeclines = 0;
  for (let i = 0; i < N; i++) {
    const q = reqs[i]!;
    const res = results[i]!;
    if (res.approved) {
      approved++;
      userSpent += q.amount + q.fee;
      depositSpent += q.amount;
    } else if (res.reason === 'INSUFFICIENT_FUNDS') {
      if (!(res.availableMinor < q.amount + q.fee) || !(res.depositAvailableMinor >= q.amount)) badDeclines++;
    } else if (res.reason === 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE') {
      if (!(res.depositAvailableMinor < q.amount)) badDeclines++;
    } else {
      badDeclines++;
    }
  }
  t.ok(approved > 0 && approved < N, `some approved (${approved}), some declined`);
  t.equal(badDeclines, 0, 'every decline happened when the remaining funds were less than its amount');
  t.ok(userSpent <= USER_FUNDS, 'approved total within the user funds');
  t.ok(depositSpent <= DEPOSIT_FUNDS, 'approved total within the deposit');
  const bal = await setup.getUserBalance(ub);
  t.same({ a: bal?.availableMinor, b: bal?.blockedMinor }, { a: USER_FUNDS - userSpent, b: userSpent });
  const d = await setup.getPartnerBalance(dep);
  t.same({ a: d?.availableMinor, b: d?.blockedMinor }, { a: DEPOSIT_FUNDS - depositSpent, b: depositSpent });
  // Nothing approvable is left behind: the smallest declined request no longer fits.
  const minDeclined = Math.min(...reqs.filter((_, i) => !results[i]!.approved).map((q) => q.amount));
  t.ok(d!.availableMinor < minDeclined || bal!.availableMinor < minDeclined, 'funds left are below the smallest declined amount');
  const report = await checkLedger(setup.redis);
  t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
  t.equal(report.counts.openHolds, approved);
});

// The ledger on a real 3-master Redis Cluster: every script in one slot, the deposit split into
// per-group tranches, rebalancing under skewed load, transfers interrupted mid-way.
import t from 'tap';
import { Ledger, counterPeriod, type VelocityCounters } from '../ledger/index.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { startTestCluster } from './helpers/cluster.js';

const DAY = 86_400_000;

function customerInGroup(ledger: Ledger, group: number, salt: string): string {
  for (let i = 0; ; i++) if (ledger.keys.groupOfCustomer(salt + i) === group) return salt + i;
}

t.test('ledger on a 3-master cluster', async (t) => {
  const c = await startTestCluster(t);
  const ledger = await Ledger.open(c.client);
  t.equal(ledger.groups, 16, 'a cluster defaults to 16 slot groups');

  const dep = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const credit = (await ledger.createPartnerBalance({ type: 'CREDIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const company = (await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: 'cfg' })).balance.id;
  const rl = await ledger.reloadPartnerBalance({ id: dep, amountMinor: 16_000, idempotencyKey: 'r1' });
  t.same(rl.balance?.tranchesAvailableMinor, Array(16).fill(1000), 'a reload is spread over the tranches');
  await ledger.reloadPartnerBalance({ id: credit, amountMinor: 1_600_000, idempotencyKey: 'r2' });

  t.test('every operation works in every group', async (t) => {
    for (let g = 0; g < 16; g++) {
      const ub = (await ledger.createUserBalance({ customerId: customerInGroup(ledger, g, 'all'), currency: 'EUR', configId: 'cfg' })).id;
      t.equal(ledger.keys.groupOfBalance(ub), g);
      t.match(await ledger.post({ type: 'TOPUP', idempotencyKey: 'top' + g, txId: 'top', balanceId: ub, amountMinor: 500, partnerId: credit }), { ok: true });
      t.match(await ledger.hold({ idempotencyKey: 'h' + g, txId: 'h', balanceId: ub, depositId: dep, amountMinor: 100, feeMinor: 2, companyId: company, expiresAtMs: Date.now() + DAY }), { approved: true });
      t.match(await ledger.clear({ idempotencyKey: 'c' + g, txId: 'h', balanceId: ub, amountMinor: 90 }), { ok: true, releasedMinor: 10, feesPostedMinor: 2 });
      t.match(await ledger.hold({ idempotencyKey: 'h2' + g, txId: 'h2', balanceId: ub, depositId: dep, amountMinor: 50, expiresAtMs: Date.now() - 1 }), { approved: true });
      t.match(await ledger.credit({ idempotencyKey: 'rf' + g, txId: 'rf', balanceId: ub, amountMinor: 5, depositId: dep }), { ok: true });
    }
    t.match(await ledger.sweepExpired(Date.now()), { expired: 16 });
    // Counters over every window, an increment with its reversal, a completion advice, in groups
    // on every master: every script stays in its balance's slot (a CROSSSLOT error would reject).
    for (const g of [0, 6, 13]) {
      const ub = (await ledger.createUserBalance({ customerId: customerInGroup(ledger, g, 'vel'), currency: 'EUR', configId: 'cfg' })).id;
      await ledger.post({ type: 'TOPUP', idempotencyKey: 'vel-top' + g, txId: 'top', balanceId: ub, amountMinor: 900, partnerId: credit });
      const now = Date.now();
      const counters: VelocityCounters = {
        cardId: 'card-' + g, scope: 'PURCHASE', counters: (['DAY', 'WEEK', 'MONTH', 'LIFETIME'] as const).map((w) => ({
          controlId: 'v-' + w, window: w, period: counterPeriod(w, now), scope: 'ALL' as const, amountMinor: 800, count: 5, enforced: w !== 'LIFETIME',
        })),
      };
      t.match(await ledger.hold({ idempotencyKey: 'vh' + g, txId: 'vh', balanceId: ub, depositId: dep, amountMinor: 100, expiresAtMs: now + DAY, counters }), { approved: true });
      t.match(await ledger.incrementHold({ idempotencyKey: 'vi' + g, originalTxId: 'vh', incrementTxId: 'vi', balanceId: ub, depositId: dep, amountMinor: 50, expiresAtMs: now + 2 * DAY, counters }),
        { approved: true });
      t.match(await ledger.incrementHold({ idempotencyKey: 'vi2' + g, originalTxId: 'vh', incrementTxId: 'vi2', balanceId: ub, depositId: dep, amountMinor: 700, expiresAtMs: now + 2 * DAY, counters }),
        { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' });
      t.match(await ledger.reverse({ idempotencyKey: 'vr' + g, txId: 'vi', balanceId: ub }), { ok: true, movedMinor: 50 });
      t.match(await ledger.replaceHold({ idempotencyKey: 'vp' + g, txId: 'vh', balanceId: ub, amountMinor: 80 }), { ok: true, releasedMinor: 20 });
      t.match(await ledger.reverse({ idempotencyKey: 'vr2' + g, txId: 'vh', balanceId: ub }), { ok: true, movedMinor: 80 });
    }
    // A top-up larger than the group's credit tranche (100,000) pulls credit from the others.
    const big = (await ledger.createUserBalance({ customerId: customerInGroup(ledger, 7, 'big'), currency: 'EUR', configId: 'cfg' })).id;
    t.match(await ledger.post({ type: 'LOAN', idempotencyKey: 'loan', txId: 'loan', balanceId: big, amountMinor: 250_000, partnerId: credit }),
      { ok: true, rebalanced: true, availableMinor: 250_000 });
    t.match(await ledger.post({ type: 'LOAN', idempotencyKey: 'loan2', txId: 'loan2', balanceId: big, amountMinor: 2_000_000, partnerId: credit }),
      { ok: false, reason: 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE' });
    const masters = c.client.nodes('master');
    const sizes = await Promise.all(masters.map((m) => m.dbsize()));
    t.equal(sizes.filter((n) => n > 0).length, 3, `data on all 3 masters (${sizes.join(', ')} keys)`);
    const report = await checkLedger(c.client);
    t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
  });

  t.test('skewed load on one group: tranches refill, no decline while the program has deposit funds', async (t) => {
    const dep2 = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'skew' })).balance.id;
    await ledger.reloadPartnerBalance({ id: dep2, amountMinor: 16_000, idempotencyKey: 'skew' });
    const ub = (await ledger.createUserBalance({ customerId: customerInGroup(ledger, 5, 'skew'), currency: 'EUR', configId: 'skew' })).id;
    await ledger.post({ type: 'TOPUP', idempotencyKey: 'skew-top', txId: 'top', balanceId: ub, amountMinor: 1_000_000, partnerId: null });
    let approved = 0;
    let badDeclines = 0;
    let rebalanced = 0;
    for (let i = 0; i < 70; i++) {
      const r = await ledger.hold({ idempotencyKey: 'sk' + i, txId: 'sk' + i, balanceId: ub, depositId: dep2, amountMinor: 300, expiresAtMs: Date.now() + DAY });
      if (r.rebalanced) rebalanced++;
      if (r.approved) { approved++; continue; }
      const total = (await ledger.getPartnerBalance(dep2))!.availableMinor;
      if (r.reason !== 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE' || total >= 300) badDeclines++;
    }
    t.equal(approved, Math.floor(16_000 / 300), 'approved until the program deposit as a whole ran out');
    t.equal(badDeclines, 0, 'declined only when the whole deposit had less than the amount');
    t.ok(rebalanced > 0 && rebalanced <= approved / 2, `refills are batched (${rebalanced} of ${approved} approvals needed one)`);
    const report = await checkLedger(c.client);
    t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
    t.equal(report.counts.transfersInFlight, 0);
  });

  t.test('concurrent skewed load from 4 cluster clients conserves money', async (t) => {
    const dep3 = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'conc' })).balance.id;
    const FUNDS = 64_000;
    await ledger.reloadPartnerBalance({ id: dep3, amountMinor: FUNDS, idempotencyKey: 'conc' });
    const users: string[] = [];
    for (const g of [3, 11]) {
      const ub = (await ledger.createUserBalance({ customerId: customerInGroup(ledger, g, 'conc'), currency: 'EUR', configId: 'conc' })).id;
      await ledger.post({ type: 'TOPUP', idempotencyKey: 'conc-top' + g, txId: 'top', balanceId: ub, amountMinor: 1_000_000, partnerId: null });
      users.push(ub);
    }
    const ledgers = await Promise.all([0, 1, 2, 3].map(() => Ledger.open(c.connect())));
    const amounts = Array.from({ length: 2000 }, (_, i) => 10 + ((i * 7919) % 60));
    const results = await Promise.all(amounts.map((amountMinor, i) => ledgers[i % 4]!.hold({
      idempotencyKey: 'cc' + i, txId: 'cc' + i, balanceId: users[i % 2]!, depositId: dep3, amountMinor, expiresAtMs: Date.now() + DAY,
    })));
    const spent = results.reduce((s, r, i) => s + (r.approved ? amounts[i]! : 0), 0);
    t.ok(spent <= FUNDS, `approved ${spent} within the deposit ${FUNDS}`);
    t.ok(spent > 2 * (FUNDS / 16), 'the two busy groups spent far more than their own tranches');
    const d = (await ledger.getPartnerBalance(dep3))!;
    t.equal(d.availableMinor + d.blockedMinor, FUNDS);
    t.equal(d.blockedMinor, spent);
    const report = await checkLedger(c.client);
    t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
  });

  t.test('a transfer interrupted between its two slots is in transit, then recovered', async (t) => {
    const id = await ledger.startTransfer(dep, 0, 9, 200);
    t.ok(id);
    const mid = await checkLedger(c.client);
    t.ok(mid.ok, 'money in transit is accounted for', { diagnostic: !mid.ok, report: formatReport(mid) });
    t.equal(mid.counts.transfersInFlight, 1);
    t.equal(mid.currencies.EUR?.inTransitMinor, 200n);
    const eur = mid.currencies.EUR!;
    t.same(await ledger.summary().then((x) => x.EUR), {
      usersMinor: Number(eur.userAvailableMinor + eur.userBlockedMinor),
      partnersMinor: Number(eur.partnerAvailableMinor + eur.partnerBlockedMinor + eur.inTransitMinor),
      walletMinor: Number(eur.userAvailableMinor + eur.userBlockedMinor + eur.partnerAvailableMinor + eur.partnerBlockedMinor + eur.inTransitMinor),
    }, 'summary counts money in transit as partner money');
    const before = (await ledger.getPartnerBalance(dep))!;
    t.equal(await ledger.recoverTransfers(), 1);
    t.equal(await ledger.recoverTransfers(), 0, 'nothing left to recover');
    const after = (await ledger.getPartnerBalance(dep))!;
    t.equal(after.availableMinor, before.availableMinor + 200);
    t.equal(after.tranchesAvailableMinor[9], before.tranchesAvailableMinor[9]! + 200);
    t.equal(await ledger.completeTransfer(0, id!), 200, 'completing again moves nothing more');
    t.same((await ledger.getPartnerBalance(dep))!.availableMinor, after.availableMinor);
    t.ok(await ledger.rebalancePartnerBalance(dep) >= 0);
    const end = await checkLedger(c.client);
    t.ok(end.ok, 'ledger check passes', { diagnostic: !end.ok, report: formatReport(end) });
    t.equal(end.counts.transfersInFlight, 0);
  });
});

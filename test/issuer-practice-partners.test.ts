// Partial approvals and incremental authorizations in the two partner modes, against the partner
// simulator (docs/partners.md): the partner is asked for the amount that will be approved, and an
// increment is a debit of the increment under the original's transactionId.
import t from 'tap';
import { assertLedgerSound, balance, f90, msg, send, txIdOf } from './helpers/e2e.js';
import { externalCard, partnerWorld, sharedCard } from './helpers/partner-world.js';

const ACCEPTS_PARTIAL = '6101' + '1';

t.test('partner modes: a partial approval asks the partner for the amount approved; an increment is a debit under the original\'s transactionId', async (t) => {
  const pw = await partnerWorld(t);
  const { w, ext, sha } = pw;

  // EXTERNAL_BALANCE: the partner holds the user's money; its balance is read first.
  const e = await externalCard(pw, 1, 3_000);
  const buy = msg('0100', e, '000001', '00', 5_000, { 48: ACCEPTS_PARTIAL });
  const r = (await send(w, buy)).res;
  t.equal(r['39'], '10', 'EXTERNAL_BALANCE: approved in part');
  t.equal(r['4'], '000000003000', 'for what the partner\'s balance covers');
  const debits = ext.sim.calls('/transactions/debit').map((c) => c.body as Record<string, unknown>);
  t.match(debits.find((d) => d.transactionId === txIdOf(e, buy)), { amount: 3_000 }, 'the partner was asked for 30.00, not 50.00');
  t.equal(ext.sim.balance(e.balanceId)?.amount, 0, 'and took it');

  // SHARED_AUTHORIZATION: the switch holds the balances; it holds first, then asks the partner.
  const s = await sharedCard(pw, 2, 2_000);
  const buy2 = msg('0100', s, '000002', '00', 5_000, { 48: ACCEPTS_PARTIAL });
  const r2 = (await send(w, buy2)).res;
  t.equal(r2['39'], '10', 'SHARED_AUTHORIZATION: approved in part');
  t.equal(r2['4'], '000000002000');
  const sdebits = sha.sim.calls('/transactions/debit').map((c) => c.body as Record<string, unknown>);
  t.match(sdebits.find((d) => d.transactionId === txIdOf(s, buy2)), { amount: 2_000 }, 'the partner was asked for what will be approved');
  t.same(await balance(w, s), [0, 2_000], '20.00 held');

  // An increment: a debit of the increment, with the original's transactionId.
  const s3 = await sharedCard(pw, 3, 20_000);
  const pre = msg('0100', s3, '000003', '00', 10_000, { 18: '7011' });
  t.equal((await send(w, pre)).res['39'], '00');
  const inc = msg('0100', s3, '000004', '00', 2_500, { 18: '7011', 90: f90(pre) });
  t.equal((await send(w, inc)).res['39'], '00', 'the increment is approved');
  const incDebit = sha.sim.calls('/transactions/debit').map((c) => c.body as Record<string, unknown>).filter((d) => d.transactionId === txIdOf(s3, pre));
  t.equal(incDebit.length, 2, 'two debits under the original\'s transactionId');
  t.match(incDebit[1], { amount: 2_500 }, 'the second for the increment');
  t.same(await balance(w, s3), [7_500, 12_500], 'one transaction holds 125.00');
  await assertLedgerSound(t, w);
});

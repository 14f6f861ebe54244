// The stand-in rule after a partner failure (a debit the partner does not answer within the
// budget), in both partner modes and under both rules: DECLINE answers 91, releases what was held
// and sends a `reversal`; APPROVE_UP_TO answers 00 at or under `standIn.limit`, keeps the hold and
// tells the partner with a `force-debit` of the same transactionId, so wire, ledger and partner
// agree. Against the partner simulator over HTTPS with client certificates and a real redis-server.
import t from 'tap';
import { EXT, SHA, eventually, externalCard, partnerWorld, sharedCard } from './helpers/partner-world.js';
import { assertLedgerSound, balance, msg, send, txIdOf } from './helpers/e2e.js';

const APPROVE = { standIn: { rule: 'APPROVE_UP_TO', limit: 2_000 } };

t.test('APPROVE_UP_TO: a slow EXTERNAL_BALANCE partner; at or under the limit approved with a force-debit, above it 91 and a reversal', async (t) => {
  const pw = await partnerWorld(t, { ext: APPROVE, sha: APPROVE });
  const card = await externalCard(pw, 1, 10_000);
  // The partner answers after the switch gave up (timeout 400 ms) but still takes the debit.
  pw.ext.sim.configure({ latencyMs: 700 });
  const under = msg('0100', card, '000001', '00', 2_000);
  const r1 = await send(pw.w, under);
  t.equal(r1.res['39'], '00', 'approved in stand-in: at the limit');
  const txId = txIdOf(card, under);
  t.equal((await pw.w.ledger.findPartnerBalance(EXT.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 2_000, 'the deposit hold stands');
  t.ok(await eventually(() => pw.ext.sim.calls('/transactions/force-debit').some((c) => (c.body as { transactionId?: string }).transactionId === txId && c.status === 204)),
    'the partner is told with a force-debit of the same transactionId');
  t.ok(await eventually(() => pw.ext.sim.calls('/transactions/debit').some((c) => c.status === 204)), 'the late debit landed at the partner too');
  t.equal(pw.ext.sim.calls('/transactions/reversal').length, 0, 'no reversal');
  t.equal(pw.ext.sim.balance(card.balanceId)?.amount, 8_000, 'the partner took the money once');

  // A partner that hangs (takes nothing) for the rest.
  pw.ext.sim.configure({ latencyMs: 0, hangRate: 1 });
  const over = msg('0100', card, '000002', '00', 2_001);
  t.equal((await send(pw.w, over)).res['39'], '91', 'above the limit: declined 91');
  t.equal((await pw.w.ledger.findPartnerBalance(EXT.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 2_000, 'its deposit hold released');
  // An 0200 (posted at once) is not approved in stand-in, as the ledger's own stand-in does not.
  t.equal((await send(pw.w, msg('0200', card, '000003', '00', 500))).res['39'], '91', 'an 0200 under the limit: 91');
  pw.ext.sim.configure({ hangRate: 0 });
  // The outbox retries with full-jitter backoff (1 s doubling): after the attempts that met the
  // hanging partner, the next one may be well over 20 s away on a loaded machine.
  t.ok(await eventually(() => pw.ext.sim.calls('/transactions/reversal').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(card, over) && c.status === 204), 90_000), 'a reversal sent for the 91');
  t.equal(pw.ext.sim.balance(card.balanceId)?.amount, 8_000, 'the partner holds what the wire approved, no more');
  await assertLedgerSound(t, pw.w);
});

t.test('APPROVE_UP_TO: a SHARED_AUTHORIZATION partner that hangs; approved against the switch\'s own hold, refused here when the funds do not suffice', async (t) => {
  const pw = await partnerWorld(t, { ext: APPROVE, sha: APPROVE });
  const card = await sharedCard(pw, 2, 3_000);
  pw.sha.sim.configure({ hangRate: 1 });
  const a = msg('0100', card, '000001', '00', 1_500);
  t.equal((await send(pw.w, a)).res['39'], '00', 'approved in stand-in');
  t.same(await balance(pw.w, card), [1_500, 1_500], 'held against the user balance');
  t.equal((await pw.w.ledger.findPartnerBalance(SHA.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 1_500, 'and the deposit');
  const poor = msg('0100', card, '000002', '00', 2_000);
  t.equal((await send(pw.w, poor)).res['39'], '51', 'under the limit but over the funds: the ledger declines');
  t.same(await balance(pw.w, card), [1_500, 1_500], 'nothing more held');
  pw.sha.sim.configure({ hangRate: 0 });
  t.ok(await eventually(() => pw.sha.sim.calls('/transactions/force-debit').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(card, a) && c.status === 204)), 'a force-debit for the approval');
  t.ok(await eventually(() => pw.sha.sim.calls('/transactions/reversal').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(card, poor) && c.status === 204)), 'a reversal for the decline');
  t.notOk(pw.sha.sim.calls('/transactions/reversal').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(card, a)), 'no reversal of the approval');
  const rec = await pw.api.get(`/secure/transactions?balanceId=${card.balanceId}`);
  t.match(rec.json.items.find((x: { externalTransactionId: string }) => x.externalTransactionId === txIdOf(card, a)), { processingStatus: 'SUCCESS', responseCode: '00', status: 'AUTHORIZED' }, 'recorded as approved');
  await assertLedgerSound(t, pw.w);
});

t.test('DECLINE (default): a partner that does not answer is declined 91 in both modes, the hold released, a reversal sent, no force-debit', async (t) => {
  const pw = await partnerWorld(t);
  const ext = await externalCard(pw, 3, 10_000);
  const sha = await sharedCard(pw, 4, 10_000);
  pw.ext.sim.configure({ hangRate: 1 });
  pw.sha.sim.configure({ hangRate: 1 });
  const e = msg('0100', ext, '000001', '00', 100);
  const s = msg('0100', sha, '000001', '00', 100);
  t.equal((await send(pw.w, e)).res['39'], '91', 'EXTERNAL_BALANCE: 91');
  t.equal((await send(pw.w, s)).res['39'], '91', 'SHARED_AUTHORIZATION: 91');
  t.same(await balance(pw.w, sha), [10_000, 0], 'nothing held');
  for (const p of [EXT, SHA]) t.equal((await pw.w.ledger.findPartnerBalance(p.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 0, `${p.configId}: no deposit held`);
  pw.ext.sim.configure({ hangRate: 0 });
  pw.sha.sim.configure({ hangRate: 0 });
  t.ok(await eventually(() => pw.ext.sim.calls('/transactions/reversal').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(ext, e) && c.status === 204)), 'EXTERNAL_BALANCE: reversal');
  t.ok(await eventually(() => pw.sha.sim.calls('/transactions/reversal').some((c) => (c.body as { transactionId?: string }).transactionId === txIdOf(sha, s) && c.status === 204)), 'SHARED_AUTHORIZATION: reversal');
  t.equal(pw.ext.sim.calls('/transactions/force-debit').length + pw.sha.sim.calls('/transactions/force-debit').length, 0, 'no force-debit');
  await assertLedgerSound(t, pw.w);
});

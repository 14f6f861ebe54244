// The partner modes over real HTTPS with client certificates, against the partner simulator:
// EXTERNAL_BALANCE (the partner holds the user's balance; the switch holds the deposit, then asks
// the partner's debit) and SHARED_AUTHORIZATION (the partner decides first, then the switch's own
// deposit-then-user hold). What a user would notice: field 39, the partner's balance, the calls the
// partner receives (through the outbox for those it cannot refuse), and the ledger check.
import t, { type Test } from 'tap';
import { assertLedgerSound, balance, EXP, f90, field54, msg, send, startWorld, txIdOf, type Card, type World } from './helpers/e2e.js';
import { ApiClient } from './helpers/api.js';
import { EXT, SHA, partnerWorld } from './helpers/partner-world.js';
import type { RunningPartnerSim } from '../simulators/partner/server.js';

const LATER = { 7: '1126101500' };

/** Waits (bounded) until the simulator has received a call matching `match` on `path`. */
async function received(sim: RunningPartnerSim, path: string, match: (body: Record<string, unknown>) => boolean): Promise<Record<string, unknown> | undefined> {
  for (let i = 0; i < 400; i++) {
    const c = sim.sim.calls(path).find((x) => typeof x.body === 'object' && x.body !== null && match(x.body as Record<string, unknown>));
    if (c !== undefined) return c.body as Record<string, unknown>;
    await new Promise((r) => setTimeout(r, 50));
  }
  return undefined;
}

/** Both partner-mode programs against their simulators (test/helpers/partner-world.ts). */
async function world(t: Test): Promise<{ w: World; ext: RunningPartnerSim; sha: RunningPartnerSim }> {
  const { w, ext, sha } = await partnerWorld(t, { env: { PLACEMENT: 'workers' } });
  return { w, ext, sha };
}

t.test('EXTERNAL_BALANCE: link at creation, deposit hold then the partner debit, refusals, reversals and clearings reported', async (t) => {
  const { w, ext } = await world(t);
  const api = new ApiClient(w.s.app.httpPort);
  const cust = await api.post('/lifecycle/v1/wallet', { firstName: 'Eva', lastName: 'Lind', phone: '+46700000000', email: 'eva@example.se', birthDate: '1990-02-03', state: 'Stockholm', kyc: 'SUCCESS' });
  const bal = await api.post(`/secure/customers/${cust.json.id}/balances`, { currency: 'EUR', configId: EXT.configId }, { headers: { 'X-Idempotency-Key': 'ext-bal-1' } });
  t.equal(bal.status, 201, 'the balance is created once the partner linked it');
  const balanceId = bal.json.id as string;
  t.match(balanceId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a UUID v4, as the partner keeps it');
  t.ok(ext.sim.balance(balanceId), 'the partner holds it');
  const again = await api.post(`/secure/customers/${cust.json.id}/balances`, { currency: 'EUR', configId: EXT.configId }, { headers: { 'X-Idempotency-Key': 'ext-bal-1' } });
  t.equal(again.json.id, balanceId, 'a retried creation names the same balance');
  ext.sim.configure({ users: ['someone-else'] });
  const refused = await api.post(`/secure/customers/${cust.json.id}/balances`, { currency: 'EUR', configId: EXT.configId });
  t.equal(refused.status, 404, 'a partner refusal fails the creation');
  t.equal(refused.json.title, 'USER_NOT_FOUND', "with the partner's title");
  ext.sim.configure({ users: null });

  const b = ext.sim.balance(balanceId)!;
  ext.sim.setBalance({ ...b, amount: 10_000 });
  const pan = EXT.bin + '00000001';
  await w.cards.put(pan, { id: 'ext-card-1', customerId: String(cust.json.id), balanceId, configId: EXT.configId, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
  const card: Card = { pan, cardId: 'ext-card-1', balanceId, expiry: EXP, customerId: String(cust.json.id) };

  const a1 = msg('0100', card, '000001', '00', 2_500);
  const r1 = await send(w, a1);
  t.equal(r1.res['39'], '00', 'approved by the partner');
  t.notOk(r1.res['54'], 'no field 54: the balance is the partner\'s');
  t.equal(ext.sim.balance(balanceId)?.amount, 7_500, 'the partner debited it');
  const dep = await w.ledger.findPartnerBalance(EXT.configId, 'DEPOSIT', 'EUR');
  t.equal(dep?.blockedMinor, 2_500, 'the deposit holds it');
  const inquiry = await send(w, msg('0100', card, '000010', '30', 0));
  t.equal(inquiry.res['39'], '00', 'a balance inquiry asks the partner');
  t.equal(inquiry.res['54'], field54(10_000, 7_500), 'field 54: available as the partner holds it, ledger with what the switch still holds');
  t.match((await api.get(`/secure/customers/${cust.json.id}/balances/${balanceId}`)).json, { available: 7_500, blocked: 2_500 }, 'and so does the API');

  const r2 = await send(w, msg('0100', card, '000002', '00', 20_000));
  t.equal(r2.res['39'], '51', 'the partner refused: INSUFFICIENT_FUNDS');
  t.equal((await w.ledger.findPartnerBalance(EXT.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 2_500, 'its deposit hold was released');
  ext.sim.configure({ refuse: [{ title: 'FRAUDS_DETECTED', mcc: '7995' }] });
  t.equal((await send(w, msg('0100', card, '000003', '00', 100, { 18: '7995' }))).res['39'], '59', 'FRAUDS_DETECTED: 59');
  ext.sim.configure({ refuse: [] });

  t.equal((await send(w, msg('0400', card, '000004', '00', 2_500, { ...LATER, 90: f90(a1) }))).res['39'], '00', 'the scheme reverses the approval');
  const fc = await received(ext, '/transactions/force-credit', (x) => x.referenceTransactionId === txIdOf(card, a1));
  t.match(fc, { type: 'adjustment', status: 'REVERSED', amount: 2_500 }, 'sent as a force-credit naming the original');
  t.equal(ext.sim.balance(balanceId)?.amount, 10_000, "the partner's balance is whole again");

  const a5 = msg('0100', card, '000005', '00', 1_000);
  t.equal((await send(w, a5)).res['39'], '00');
  t.equal((await send(w, msg('0220', card, '000006', '00', 1_000, { ...LATER, 90: f90(a5) }))).res['39'], '00', 'cleared');
  t.ok(await received(ext, `/transactions/${encodeURIComponent(txIdOf(card, a5))}`, (x) => x.status === 'CLEARED'), 'PUT CLEARED reached the partner');

  ext.sim.configure({ hangRate: 1 });
  const hung = await send(w, msg('0100', card, '000007', '00', 500));
  t.equal(hung.res['39'], '91', 'a partner that does not answer: 91 within the budget');
  ext.sim.configure({ hangRate: 0 });
  t.ok(await received(ext, '/transactions/reversal', (x) => typeof x.transactionId === 'string' && (x.transactionId as string).includes('.000007.')), 'and a reversal later, through the outbox');
  t.equal((await w.ledger.findPartnerBalance(EXT.configId, 'DEPOSIT', 'EUR'))?.blockedMinor, 0, 'no deposit stays held: reversed, cleared, and the unanswered one released');

  t.ok(await received(ext, '/notifications/transaction', (x) => x.description === 'INSUFFICIENT_FUNDS'), 'every message is notified, declines too');
  const customer = `/secure/customers/${cust.json.id}`;
  t.equal((await api.post(`${customer}/cards/ext-card-1/lock`, { reason: 7 })).status, 204);
  t.match(await received(ext, '/notifications/cardLocked', (x) => x.dcCardId === 'ext-card-1'), { reason: 'SUSPECTED_FRAUD' }, 'a lock is notified');
  t.equal((await api.post(`${customer}/cards/ext-card-1/unlock`)).status, 204);
  t.ok(await received(ext, '/notifications/cardUnlocked', (x) => x.dcCardId === 'ext-card-1'), 'and the unlock');
  t.equal((await api.post(`${customer}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204);
  t.match(await received(ext, '/notifications/transactionalLockReasonAdded', (x) => x.resourceId === String(cust.json.id)), { lockReason: 'FRAUD_SUSPECTED', resourceType: 'user' }, 'a transactional lock is notified');
  t.equal((await api.delete(`${customer}/transactional-locks/FRAUD_SUSPECTED`)).status, 204);
  t.ok(await received(ext, '/notifications/transactionalLockReasonRemoved', (x) => x.resourceId === String(cust.json.id)), 'and its removal');
  await assertLedgerSound(t, w);
});

t.test('SHARED_AUTHORIZATION: the partner decides first, then the switch holds; a local decline after a partner approval is reversed', async (t) => {
  const { w, sha } = await world(t);
  const bal = await w.ledger.createUserBalance({ customerId: 'sha-1', currency: 'EUR', configId: SHA.configId });
  await w.ledger.post({ type: 'TOPUP', idempotencyKey: 'sha-top', txId: 'sha-top', balanceId: bal.id, amountMinor: 10_000, partnerId: null });
  const pan = SHA.bin + '00000001';
  await w.cards.put(pan, { id: 'sha-card-1', customerId: 'sha-1', balanceId: bal.id, configId: SHA.configId, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
  const card: Card = { pan, cardId: 'sha-card-1', balanceId: bal.id, expiry: EXP, customerId: 'sha-1' };

  const r1 = await send(w, msg('0100', card, '000001', '00', 3_000));
  t.equal(r1.res['39'], '00', 'the partner and the funds agree');
  t.same(await balance(w, card), [7_000, 3_000], 'held here');
  t.equal(sha.sim.calls('/transactions/debit').length, 1, 'the partner was asked once');

  sha.sim.configure({ refuse: [{ title: 'LIMITS_EXCEEDED', minAmount: 5_000 }] });
  t.equal((await send(w, msg('0100', card, '000002', '00', 6_000))).res['39'], '61', 'LIMITS_EXCEEDED: 61');
  t.same(await balance(w, card), [7_000, 3_000], 'nothing held');
  sha.sim.configure({ refuse: [] });

  const over = msg('0100', card, '000003', '00', 9_000);
  t.equal((await send(w, over)).res['39'], '51', 'the partner approved, the funds here do not suffice');
  t.ok(await received(sha, '/transactions/reversal', (x) => x.transactionId === txIdOf(card, over)), 'the partner is told to undo its approval');
  t.same(await balance(w, card), [7_000, 3_000]);
  // The same refused request twice in one write (a repeat racing its original): both answered 51,
  // the partner told once to undo it.
  const twice = msg('0100', card, '000004', '00', 9_500);
  const bytes = w.c.pack(twice);
  w.c.frames.splice(0);
  w.c.writeRaw(Buffer.concat([bytes, bytes]));
  const answers = [await w.c.nextFrame(10_000), await w.c.nextFrame(10_000)].map((f) => w.c.unpack(f) as Record<string, string>);
  t.same(answers.map((a) => a['39']), ['51', '51'], 'a racing repeat gets the same answer, not a system error');
  const metrics = await new ApiClient(w.s.app.httpPort).get('/metrics');
  t.match(metrics.text, new RegExp(`partner_call_seconds_count\\{partner="${SHA.configId}",endpoint="debit",outcome="ok"\\} [3-4]`), "the decision path's partner calls are in /metrics (from the worker threads)");
  t.match(metrics.text, new RegExp(`partner_call_seconds_count\\{partner="${SHA.configId}",endpoint="debit",outcome="DECLINED"\\} 1`));
  await assertLedgerSound(t, w);
});

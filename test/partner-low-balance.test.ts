// The low-balance notification of partner balances: a program's DEPOSIT (or CREDIT) balance going
// below its `lowBalanceMinor` level sends one POST /notifications/lowBalance through the outbox per
// crossing, not one per message; it is armed again once the balance is back at or above the level.
// Against the partner simulator over HTTPS with client certificates and a real redis-server.
import t from 'tap';
import { EXT, SHA, eventually, partnerWorld, sharedCard } from './helpers/partner-world.js';
import { assertLedgerSound, msg, send } from './helpers/e2e.js';

t.test('a deposit crossing its level: one notification per crossing, again after it recovered', async (t) => {
  // Deposits start at 1,000,000; the level is 995,000 for SHARED_AUTHORIZATION's deposit.
  const pw = await partnerWorld(t, { sha: { lowBalanceMinor: { DEPOSIT: 995_000 } }, env: { LOW_BALANCE_CHECK_MS: '100' } });
  const card = await sharedCard(pw, 1, 50_000);
  // The world creates each deposit and then reloads it while the switch (and its watcher) runs: a
  // watcher tick between the two sees the new deposit at 0 and rightly notifies. That setup
  // notification (amount 0) is not one of this test's crossings.
  const lows = () => pw.sha.sim.calls('/notifications/lowBalance')
    .filter((c) => c.status === 204 && (c.body as { amount?: number }).amount !== 0);
  // That nothing was sent can only be seen after the watcher has looked: it looks every 100 ms
  // (LOW_BALANCE_CHECK_MS), so waiting 400 ms lets it look a few times.
  const look = async (): Promise<void> => { await new Promise((r) => setTimeout(r, 400)); };

  t.equal((await send(pw.w, msg('0100', card, '000001', '00', 3_000))).res['39'], '00', 'above the level still');
  await look();
  t.equal(lows().length, 0, 'no notification above the level');

  for (const [i, stan] of ['000002', '000003', '000004'].entries()) {
    t.equal((await send(pw.w, msg('0100', card, stan, '00', 1_000 + i))).res['39'], '00');
  }
  t.ok(await eventually(() => lows().length >= 1), 'below the level: notified');
  await look();
  for (const stan of ['000005', '000006']) t.equal((await send(pw.w, msg('0100', card, stan, '00', 500))).res['39'], '00', 'more debits below the level');
  await look();
  t.equal(lows().length, 1, 'once per crossing, not per message');
  const first = lows()[0]!;
  const dep = await pw.w.ledger.findPartnerBalance(SHA.configId, 'DEPOSIT', 'EUR');
  t.match(first.body, { balanceId: dep?.id, type: 'DEPOSIT', configId: SHA.configId, currency: 'EUR', level: 995_000 }, 'names the partner balance and the level');
  t.ok((first.body as { amount: number }).amount < 995_000, 'with the amount it was seen at');
  t.ok(first.idempotencyKey, 'with an X-Idempotency-Key');

  const reload = await pw.api.post(`/secure/partner-balances/${dep!.id}/reload`, { amount: 20_000 }, { headers: { 'X-Idempotency-Key': 'low-reload-1' } });
  t.equal(reload.status, 200, 'reloaded above the level');
  t.ok(await eventually(async () => (await pw.w.s.redis.client.hget(`lowbal:${dep!.id}`, 'low')) === '0'), 'the watcher saw it back above the level');
  t.equal(lows().length, 1, 'a recovery sends nothing');
  t.equal((await send(pw.w, msg('0100', card, '000007', '00', 30_000))).res['39'], '00', 'and a large debit crosses again');
  t.ok(await eventually(() => lows().length === 2), 'the second crossing is notified');
  t.not(lows()[1]!.idempotencyKey, first.idempotencyKey, 'under a key of its own');
  t.equal(pw.ext.sim.calls('/notifications/lowBalance').length, 0, `a program without a level (${EXT.configId}) sends none`);
  const programs = await pw.api.get(`/secure/programs/${SHA.configId}`);
  t.same(programs.json.lowBalanceMinor, { DEPOSIT: 995_000, CREDIT: null }, 'the setting is shown with its default');
  await assertLedgerSound(t, pw.w);
});

// A partner that goes away. (1) The switch's side: advices (0120, 0220 without an original) answered
// while the partner simulator is stopped are all delivered once it is back, each exactly once under
// the X-Idempotency-Key it was recorded with. (2) The outbox's side: a notification whose attempts
// the open circuit breaker refuses counts them, goes to the dead letters after 5 without reaching
// the partner, and is delivered with its key when retried. Real HTTPS with client certificates,
// real redis-server, real time.
import t from 'tap';
import { Registry } from 'prom-client';
import { EXT, eventually, externalCard, partnerWorld } from './helpers/partner-world.js';
import { assertLedgerSound, msg, send, txIdOf } from './helpers/e2e.js';
import { makePki } from './helpers/pki.js';
import { startSim, tx } from './helpers/partner.js';
import { startTestRedis } from './helpers/redis.js';
import { startPartnerSimulator, type RunningPartnerSim } from '../simulators/partner/server.js';
import { Outbox, type OutboxEntry } from '../adapters/outbox.js';
import { PartnerClients, partnerSender } from '../adapters/partners.js';
import { ProgramTable, normalizeProgram } from '../stores/programs.js';
import type { Pki } from './helpers/pki.js';

/** The simulator `down` served again on the port it had, with its balances and idempotency cache. */
async function restart(t: { teardown(fn: () => unknown): void }, down: RunningPartnerSim, pki: Pki): Promise<RunningPartnerSim> {
  const back = await startPartnerSimulator({ port: down.port, sim: down.sim, tls: { cert: pki.path('server.pem'), key: pki.path('server.key'), ca: pki.path('ca.pem') } });
  t.teardown(() => back.close());
  return back;
}

t.test('a partner down: no force-debit of an advice is lost, each delivered once under its original key', async (t) => {
  // Retries at most 1 s apart instead of 5 minutes, so that the partner's return is seen quickly;
  // the outage lasts until every force-debit has failed three times and the breaker has opened.
  const pw = await partnerWorld(t, { env: { OUTBOX_BACKOFF_BASE_MS: '200', OUTBOX_BACKOFF_CAP_MS: '1000' } });
  const card = await externalCard(pw, 1, 100_000);
  await pw.ext.close();

  const advices = [
    msg('0120', card, '000001', '00', 1_100), msg('0120', card, '000002', '00', 1_200), msg('0120', card, '000003', '00', 1_300),
    msg('0220', card, '000004', '00', 2_100), msg('0220', card, '000005', '00', 2_200), msg('0220', card, '000006', '00', 2_300),
  ];
  for (const a of advices) t.equal((await send(pw.w, a)).res['39'], '00', `${a['0']} ${a['11']} answered 00 with the partner down`);
  const txIds = advices.map((a) => txIdOf(card, a));

  const forceDebits = async (): Promise<OutboxEntry[]> => {
    const r = await pw.api.get('/secure/outbox?state=pending&limit=100');
    return (r.json.items as OutboxEntry[]).filter((e) => e.kind === 'force-debit');
  };
  const recorded = await forceDebits();
  t.same(recorded.map((e) => (e.body as { transactionId: string }).transactionId).sort(), [...txIds].sort(), 'one force-debit per advice, durable before the answer');
  const keyOf = new Map(recorded.map((e) => [(e.body as { transactionId: string }).transactionId, e.idempotencyKey]));

  t.ok(await eventually(async () => (await forceDebits()).every((e) => e.attempts >= 3), 60_000), 'every force-debit failed at least three times while the partner was down');
  const metrics = (await pw.api.get('/metrics')).text;
  t.match(metrics, new RegExp(`partner_breaker_state\\{partner="${EXT.configId}",origin="[^"]+"\\} 2`), 'the breaker of the partner opened');
  t.equal(pw.ext.sim.calls('/transactions/force-debit').length, 0, 'nothing reached the partner meanwhile');

  const back = await restart(t, pw.ext, pw.pki);
  t.ok(await eventually(async () => (await forceDebits()).length === 0, 60_000), 'the outbox drained once the partner was back');
  const calls = back.sim.calls('/transactions/force-debit');
  for (const [i, txId] of txIds.entries()) {
    const mine = calls.filter((c) => (c.body as { transactionId?: string }).transactionId === txId);
    t.ok(mine.length >= 1 && mine.every((c) => c.idempotencyKey === keyOf.get(txId)), `advice ${i + 1}: sent under its original key`);
    t.equal(mine.filter((c) => c.outcome === 'answered').length, 1, `advice ${i + 1}: acted on once`);
  }
  const taken = back.sim.reconciliation().transactions.filter((x) => x.endpoint === 'force-debit');
  t.equal(taken.length, advices.length, 'the partner took exactly one force-debit per advice');
  t.equal(back.sim.balance(card.balanceId)?.amount, 100_000 - advices.reduce((s, a) => s + Number(a['4']), 0), "the partner's balance carries every advice once");
  await assertLedgerSound(t, pw.w);
});

t.test('a notification refused by the open breaker: each refusal counts as an attempt, dead after 5, kept, delivered when retried', async (t) => {
  const pki = makePki(t);
  const sim = await startSim(t, pki, { mode: 'EXTERNAL_BALANCE' });
  const programs = new ProgramTable([normalizeProgram({
    configId: '0000000051', bin: '55577051', currency: 'EUR', mode: 'EXTERNAL_BALANCE',
    partner: { baseUrl: sim.url, timeoutMs: 400, cert: pki.path('client.pem'), key: pki.path('client.key'), ca: pki.path('ca.pem') },
  }, 'test')]);
  const clients = new PartnerClients(programs, new Registry());
  t.teardown(() => clients.close());
  const client = clients.get('0000000051')!;
  const redis = await startTestRedis(t);
  const outbox = await Outbox.open(redis.client, { backoffBaseMs: 5, backoffCapMs: 20, pollIntervalMs: 10 });
  t.teardown(() => outbox.stop());

  await sim.close();
  for (let i = 0; i < 5; i++) await client.forceDebit(tx(), `trip-${i}`);
  t.equal(client.breakerState(), 'open', 'five failures opened the breaker of the partner');

  const key = 'note-breaker-1';
  const entry = await outbox.enqueue({
    kind: 'notification', configId: '0000000051', method: 'POST', path: '/notifications/cardUnlocked',
    body: { dcCardId: 'card-9', date: '2026-01-02T03:04:05+00:00' }, idempotencyKey: key,
  });
  outbox.start(partnerSender(clients));
  t.ok(await eventually(async () => (await outbox.get(entry.id))?.state === 'dead'), 'dead letter while the breaker stays open');
  t.match(await outbox.get(entry.id), { state: 'dead', deadReason: 'MAX_ATTEMPTS', attempts: 5, lastError: 'BREAKER_OPEN' }, 'five attempts, every one refused by the breaker');
  await outbox.stop();

  const back = await restart(t, sim, pki);
  t.equal(back.sim.calls('/notifications/').length, 0, 'the partner never saw it');
  // The breaker closes on its first successful probe (one per probe interval).
  t.ok(await eventually(async () => (await client.forceDebit(tx(), 'probe')).ok), 'the partner answers again');
  t.match(await outbox.retry(entry.id), { result: 'RETRIED' }, 'an operator retries the dead letter');
  outbox.start(partnerSender(clients));
  t.ok(await eventually(async () => (await outbox.get(entry.id))?.state === 'sent'), 'delivered');
  const got = back.sim.calls('/notifications/cardUnlocked');
  t.equal(got.length, 1, 'once');
  t.equal(got[0]?.idempotencyKey, key, 'under its original key');
});

// The switch's partner client against the partner simulator over real HTTPS with client
// certificates: every endpoint and every error title of both partner APIs, idempotent replays,
// timeouts, the circuit breaker, a partner that is down, and answers the seed does not allow.
import t from 'tap';
import { partnerDeclineReason, TITLE_REASON, type PartnerResult } from '../adapters/partner-client.js';
import { buildPartnerTransaction } from '../adapters/partner-transaction.js';
import type { PartnerTitle } from '../adapters/partner-types.js';
import { responseCode } from '../iso/reasons.js';
import { makePki } from './helpers/pki.js';
import { key, makeClient, startSim, tx, whenSeen } from './helpers/partner.js';

const pki = makePki(t);
const USER = '1337';
const B1 = '2e520dc2-329d-41ed-a261-0242ac120002';

const kindOf = (r: PartnerResult<unknown>): string => (r.ok ? 'ok' : r.kind === 'DECLINED' ? r.title : r.kind);

t.test('External Balance: every endpoint and every error title', async (t) => {
  const s = await startSim(t, pki, { mode: 'EXTERNAL_BALANCE', users: [USER, '42'] });
  const { client } = makeClient(t, s.url, pki);

  t.same(await client.linkBalance(USER, { balanceId: B1, currency: 'EUR' }, key()), { ok: true, status: 204, body: null }, 'link balance: 204');
  t.equal(kindOf(await client.linkBalance('404', { balanceId: 'b-x', currency: 'EUR' }, key())), 'USER_NOT_FOUND', 'link for an unknown user');
  t.same(await client.getBalance(USER, B1), { ok: true, status: 200, body: { currency: 'EUR', amount: 0 } }, 'get balance');
  t.equal(kindOf(await client.getBalance(USER, 'no-such-balance')), 'BALANCE_NOT_FOUND');
  t.equal(kindOf(await client.getBalance('42', B1)), 'FORBIDDEN', "another user's balance");
  s.sim.setBalance({ balanceId: B1, userId: USER, currency: 'EUR', amount: 10_000 });
  t.same(await client.listBalances(USER), { ok: true, status: 200, body: [{ id: B1, currency: 'EUR', amount: 10_000 }] }, 'list balances');
  t.same(await client.listBalances('42'), { ok: true, status: 200, body: [] }, 'a user without balances: empty list');

  const purchase = tx({ balanceId: B1, amountMinor: 2500 });
  t.equal(kindOf(await client.debit(purchase, key())), 'ok', 'debit approved');
  t.equal(s.sim.balance(B1)?.amount, 7500, 'the partner took the money');
  t.equal(kindOf(await client.debit(tx({ balanceId: B1, amountMinor: 100_000 }), key())), 'INSUFFICIENT_FUNDS');
  t.equal(kindOf(await client.debit(tx({ balanceId: 'no-such-balance' }), key())), 'BALANCE_NOT_FOUND');
  t.equal(kindOf(await client.debit(tx({ balanceId: B1, currency: 'PLN' }), key())), 'CLIENT_ERROR', 'a debit in another currency');
  s.sim.configure({ refuse: [{ title: 'LIMITS_EXCEEDED', minAmount: 5000 }, { title: 'FRAUDS_DETECTED', mcc: '7995' }, { title: 'FRAUDS_DETECTED', endpoint: 'credit', minAmount: 90_000 }] });
  t.equal(kindOf(await client.debit(tx({ balanceId: B1, amountMinor: 6000 }), key())), 'LIMITS_EXCEEDED');
  t.equal(kindOf(await client.debit(tx({ balanceId: B1, transactionData: { mcc: '7995' } }), key())), 'FRAUDS_DETECTED');
  t.equal(s.sim.balance(B1)?.amount, 7500, 'refusals moved nothing');

  t.equal(kindOf(await client.credit(tx({ balanceId: B1, type: 'topup', amountMinor: 500 }), key())), 'ok', 'credit');
  t.equal(kindOf(await client.credit(tx({ balanceId: B1, type: 'topup', amountMinor: 95_000 }), key())), 'FRAUDS_DETECTED', 'credit refused');
  t.equal(kindOf(await client.credit(tx({ balanceId: 'no-such-balance', type: 'topup' }), key())), 'BALANCE_NOT_FOUND');
  t.equal(kindOf(await client.forceDebit(tx({ balanceId: B1, amountMinor: 300 }), key())), 'ok', 'force debit');
  t.equal(kindOf(await client.forceCredit(tx({ balanceId: B1, type: 'adjustment', amountMinor: 200 }), key())), 'ok', 'force credit');
  t.equal(s.sim.balance(B1)?.amount, 7500 + 500 - 300 + 200);

  const reversal = { ...purchase, id: tx().id };
  t.equal(kindOf(await client.reversal(reversal, key())), 'ok', 'reversal of the debit');
  t.equal(s.sim.balance(B1)?.amount, 7900 + 2500, 'the debit is undone');
  t.equal(kindOf(await client.reversal(tx({ balanceId: B1 }), key())), 'ok', 'reversal of an unknown transaction: 2xx all the same');
  t.equal(s.sim.balance(B1)?.amount, 10_400, 'and nothing moved');

  const later = tx({ balanceId: B1, amountMinor: 400 });
  t.equal(kindOf(await client.debit(later, key())), 'ok');
  t.equal(kindOf(await client.clearTransaction({ ...later, id: tx().id, status: 'CLEARED' }, key())), 'ok', 'PUT CLEARED');
  t.equal(s.sim.reconciliation().transactions.find((x) => x.id === later.id)?.status, 'CLEARED');
  t.equal(kindOf(await client.clearTransaction(tx({ balanceId: B1, status: 'CLEARED' }), key())), 'TRANSACTION_NOT_FOUND');
  t.throws(() => client.clearTransaction(later, key()), { code: 'PARTNER_ERR_BODY' }, 'PUT is only for CLEARED');

  t.equal(kindOf(await client.deleteBalance(USER, B1, key())), 'CLIENT_ERROR', 'a balance with money is not deleted');
  t.equal(kindOf(await client.deleteBalance('42', B1, key())), 'FORBIDDEN');
  s.sim.setBalance({ balanceId: B1, userId: USER, currency: 'EUR', amount: 0 });
  t.equal(kindOf(await client.deleteBalance(USER, B1, key())), 'ok', 'delete balance');
  t.equal(kindOf(await client.deleteBalance(USER, B1, key())), 'BALANCE_NOT_FOUND', 'deleted already');

  const now = '2025-06-17T13:42:54+00:00';
  const notified = [
    await client.notify('cardLocked', { dcCardId: '11', date: now, reason: 'PIN_TRIES_EXCEEDED' }, key()),
    await client.notify('cardUnlocked', { dcCardId: '11', date: now }, key()),
    await client.notify('transactionalLockReasonAdded', { resourceType: 'user', resourceId: USER, lockReason: 'FRAUD_SUSPECTED', timestamp: now }, key()),
    await client.notify('transactionalLockReasonRemoved', { resourceType: 'user', resourceId: USER, lockReason: 'FRAUD_SUSPECTED', timestamp: now }, key()),
    await client.notify('transaction', {
      status: 'SUCCESS', date: now, description: 'APPROVED',
      transaction: {
        id: purchase.id, balanceId: B1, resourceId: 'card-1', resource: 'card', cardId: '357970', externalTransactionId: purchase.transactionId,
        referenceExternalTransactionId: null, type: 'POS', category: 'DEBIT', amount: 2500, currency: 'EUR', originalAmount: null,
        originalCurrency: null, status: 'AUTHORIZED', description: 'Book store', date: now, referenceExternalTransactionDate: null,
        transactionData: {
          mcc: '5942', lastFourDigits: '1234', merchantIdentifier: null, merchantName: null, merchantCity: null, captureMode: null,
          acquirerCountry: null, retrievalReferenceNumber: null,
        },
      },
    }, key()),
  ];
  t.same(notified.map(kindOf), ['ok', 'ok', 'ok', 'ok', 'ok'], 'every notification');
  const calls = s.sim.calls('/notifications/');
  t.same(calls.map((c) => c.path), ['/notifications/cardLocked', '/notifications/cardUnlocked', '/notifications/transactionalLockReasonAdded', '/notifications/transactionalLockReasonRemoved', '/notifications/transaction']);
  t.ok(s.sim.calls().filter((c) => c.method !== 'GET').every((c) => typeof c.idempotencyKey === 'string'), 'every call that changes something carries X-Idempotency-Key');
  t.notOk(s.sim.calls().some((c) => c.panLike), 'no call carried anything shaped like a card number');
});

t.test('Shared Authorization: the /transactions calls and every error title', async (t) => {
  const s = await startSim(t, pki, { mode: 'SHARED_AUTHORIZATION' });
  const { client } = makeClient(t, s.url, pki);
  t.equal(kindOf(await client.debit(tx({ amountMinor: 999_999 }), key())), 'ok', 'the partner decides; it holds no balance');
  const rules = [
    { title: 'INSUFFICIENT_FUNDS', balanceId: 'b-funds' }, { title: 'LIMITS_EXCEEDED', balanceId: 'b-limits' },
    { title: 'FRAUDS_DETECTED', balanceId: 'b-fraud' }, { title: 'BALANCE_NOT_FOUND', balanceId: 'b-missing' },
    { title: 'CLIENT_ERROR', balanceId: 'b-client' },
    { title: 'FRAUDS_DETECTED', endpoint: 'credit', balanceId: 'b-fraud' }, { title: 'BALANCE_NOT_FOUND', endpoint: 'credit', balanceId: 'b-missing' },
  ];
  s.sim.configure({ refuse: rules });
  for (const [balanceId, title] of [['b-funds', 'INSUFFICIENT_FUNDS'], ['b-limits', 'LIMITS_EXCEEDED'], ['b-fraud', 'FRAUDS_DETECTED'], ['b-missing', 'BALANCE_NOT_FOUND'], ['b-client', 'CLIENT_ERROR']] as const) {
    t.equal(kindOf(await client.debit(tx({ balanceId }), key())), title, `debit refused ${title}`);
  }
  t.equal(kindOf(await client.credit(tx({ type: 'topup' }), key())), 'ok', 'credit');
  t.equal(kindOf(await client.credit(tx({ balanceId: 'b-fraud', type: 'topup' }), key())), 'FRAUDS_DETECTED');
  t.equal(kindOf(await client.credit(tx({ balanceId: 'b-missing', type: 'topup' }), key())), 'BALANCE_NOT_FOUND');
  t.equal(kindOf(await client.credit(tx({ balanceId: 'b-limits', type: 'topup' }), key())), 'ok', 'a debit-only title never refuses a credit');
  t.equal(kindOf(await client.forceDebit(tx({ balanceId: 'b-fraud' }), key())), 'ok', 'force debit cannot be refused');
  t.equal(kindOf(await client.forceCredit(tx({ balanceId: 'b-fraud' }), key())), 'ok', 'force credit cannot be refused');
  t.equal(kindOf(await client.reversal(tx(), key())), 'ok', 'reversal');
  t.equal(kindOf(await client.notify('cardUnlocked', { dcCardId: '11', date: '2025-06-17T13:42:54+00:00' }, key())), 'ok');
  const link = await client.linkBalance(USER, { balanceId: B1, currency: 'EUR' }, key());
  t.equal(kindOf(link), 'MALFORMED', 'the Shared Authorization API has no balance endpoints: a 404 NOT_FOUND is not an answer of the seed');
  t.equal(kindOf(await client.clearTransaction(tx({ status: 'CLEARED' }), key())), 'MALFORMED', 'nor PUT');
});

t.test('decline reasons and response codes of partner results', async (t) => {
  const cases: [PartnerTitle, string, string][] = [
    ['FRAUDS_DETECTED', 'FRAUDS_DETECTED', '59'], ['LIMITS_EXCEEDED', 'LIMITS_EXCEEDED', '61'], ['INSUFFICIENT_FUNDS', 'INSUFFICIENT_FUNDS', '51'],
    ['BALANCE_NOT_FOUND', 'BALANCE_NOT_FOUND', '05'], ['FORBIDDEN', 'BALANCE_NOT_FOUND', '05'], ['USER_NOT_FOUND', 'CUSTOMER_NOT_FOUND', '05'],
    ['CLIENT_ERROR', 'UNKNOWN_ERROR', '96'], ['TRANSACTION_NOT_FOUND', 'UNKNOWN_ERROR', '96'],
  ];
  t.equal(cases.length, Object.keys(TITLE_REASON).length, 'one row per title');
  for (const [title, reason, code] of cases) {
    const r = partnerDeclineReason({ ok: false, kind: 'DECLINED', status: 422, title });
    t.equal(r, reason, title);
    t.equal(responseCode(r, '1987'), code, `${title} → ${code}`);
  }
  for (const kind of ['TIMEOUT', 'UNREACHABLE', 'SERVER_ERROR', 'MALFORMED', 'BREAKER_OPEN'] as const) {
    const r = partnerDeclineReason({ ok: false, kind, detail: '' });
    t.equal(r, 'PARTNER_UNAVAILABLE', kind);
    t.equal(responseCode(r, '2003'), '9111');
  }
  t.equal(partnerDeclineReason({ ok: true, status: 204, body: null }), 'APPROVED');
});

t.test('idempotent replays: one effect per key', async (t) => {
  const s = await startSim(t, pki);
  const { client } = makeClient(t, s.url, pki);
  s.sim.setBalance({ balanceId: B1, userId: USER, currency: 'EUR', amount: 5000 });
  const debit = tx({ balanceId: B1, amountMinor: 1000 });
  const k = key();
  t.equal(kindOf(await client.debit(debit, k)), 'ok');
  t.equal(kindOf(await client.debit(debit, k)), 'ok', 'the replay gets the first answer');
  t.equal(s.sim.balance(B1)?.amount, 4000, 'debited once');
  t.same(s.sim.calls('/transactions/').map((c) => c.outcome), ['answered', 'replayed']);
  t.equal(kindOf(await client.debit({ ...debit, amount: 2000 }, k)), 'CLIENT_ERROR', 'same key, another body: 409 CLIENT_ERROR');
  t.equal(s.sim.balance(B1)?.amount, 4000);

  const refused = tx({ balanceId: B1, amountMinor: 9000 });
  const k2 = key();
  t.equal(kindOf(await client.debit(refused, k2)), 'INSUFFICIENT_FUNDS');
  s.sim.setBalance({ balanceId: B1, userId: USER, currency: 'EUR', amount: 50_000 });
  t.equal(kindOf(await client.debit(refused, k2)), 'INSUFFICIENT_FUNDS', 'a refusal is replayed as a refusal');

  const fc = tx({ balanceId: B1, type: 'adjustment', amountMinor: 700 });
  const k3 = key();
  await client.forceCredit(fc, k3);
  await client.forceCredit(fc, k3);
  t.equal(s.sim.balance(B1)?.amount, 50_700, 'force credit applied once');
  t.equal(s.sim.reconciliation().transactions.filter((x) => x.id === fc.id).length, 1);
});

t.test('a partner that never answers: TIMEOUT within the time given', async (t) => {
  const s = await startSim(t, pki, { hangRate: 1 });
  const { client, registry } = makeClient(t, s.url, pki);
  const pending = client.debit(tx(), key(), { timeoutMs: 1000 });
  let outcome: string | undefined;
  const r = await whenSeen(pending, () => (outcome = s.sim.calls('/transactions/')[0]?.outcome) !== undefined);
  t.equal(outcome, 'hung', 'the partner accepted the call and keeps it');
  t.equal(kindOf(r), 'TIMEOUT', 'the client gives up at the time it was given');
  const before = s.sim.calls().length;
  t.equal(kindOf(await client.debit(tx(), key(), { timeoutMs: 0 })), 'TIMEOUT', 'no budget left: no call');
  t.equal(s.sim.calls().length, before);
  t.match(await registry.getSingleMetricAsString('partner_timeouts_total'), /partner_timeouts_total\{partner="0019167984",endpoint="debit"\} 2/);
  t.match(await registry.getSingleMetricAsString('partner_call_seconds'), /partner_call_seconds_count\{partner="0019167984",endpoint="debit",outcome="TIMEOUT"\} 2/);
});

t.test('the circuit breaker opens after consecutive failures and a half-open probe closes it', async (t) => {
  const s = await startSim(t, pki, { errorRate: 1 });
  const { client, clock, registry } = makeClient(t, s.url, pki, { failuresToOpen: 3, probeIntervalMs: 1000 });
  const gauge = async () => /partner_breaker_state\{[^}]*\} (\d)/.exec(await registry.getSingleMetricAsString('partner_breaker_state'))?.[1];
  for (let i = 0; i < 3; i++) t.equal(kindOf(await client.debit(tx(), key())), 'SERVER_ERROR');
  t.equal(client.breakerState(), 'open');
  t.equal(await gauge(), '2', 'gauge: open');
  t.equal(kindOf(await client.debit(tx(), key())), 'BREAKER_OPEN', 'refused without a call');
  t.equal(s.sim.calls().length, 3, 'the partner saw three calls, not four');

  clock.advance(1000);
  t.equal(kindOf(await client.debit(tx(), key())), 'SERVER_ERROR', 'the probe fails');
  t.equal(client.breakerState(), 'open', 'and the breaker opens again');
  t.equal(kindOf(await client.debit(tx(), key())), 'BREAKER_OPEN');

  clock.advance(1000);
  s.sim.configure({ errorRate: 0, latencyMs: 100 });
  const probe = client.debit(tx({ balanceId: B1 }), key());
  t.equal(client.breakerState(), 'half-open');
  t.equal(await gauge(), '1', 'gauge: half-open');
  t.equal(kindOf(await client.debit(tx(), key())), 'BREAKER_OPEN', 'one probe at a time');
  t.equal(kindOf(await probe), 'BALANCE_NOT_FOUND', 'the partner answers the probe (a refusal is an answer)');
  t.equal(client.breakerState(), 'closed');
  t.equal(await gauge(), '0', 'gauge: closed');
  t.equal(s.sim.calls().length, 5);
  t.match(await registry.getSingleMetricAsString('partner_errors_total'), /kind="BREAKER_OPEN"\} 3/);
});

t.test('a partner that is down: UNREACHABLE', async (t) => {
  const s = await startSim(t, pki);
  const { client } = makeClient(t, s.url, pki);
  t.equal(kindOf(await client.listBalances(USER)), 'ok');
  await s.close();
  t.equal(kindOf(await client.listBalances(USER)), 'UNREACHABLE', 'connection refused');
  t.equal(kindOf(await client.debit(tx(), key())), 'UNREACHABLE');
});

t.test('answers the seed does not allow are MALFORMED, logged at most once a second without card data', async (t) => {
  const s = await startSim(t, pki);
  const { client, clock, logs } = makeClient(t, s.url, pki, { failuresToOpen: 1000 });
  s.sim.setBalance({ balanceId: B1, userId: USER, currency: 'EUR', amount: 5000 });
  for (const misbehave of ['BAD_JSON', 'REDIRECT', 'OVERSIZED', 'UNKNOWN_TITLE'] as const) {
    s.sim.configure({ misbehave });
    const debit = await client.debit(tx({ balanceId: B1 }), key());
    t.equal(kindOf(debit), 'MALFORMED', `${misbehave} on a debit`);
    t.equal(kindOf(await client.getBalance(USER, B1)), 'MALFORMED', `${misbehave} on a balance read`);
  }
  s.sim.configure({ misbehave: 'REDIRECT' });
  const redirected = await client.debit(tx({ balanceId: B1 }), key());
  t.match(redirected, { ok: false, kind: 'MALFORMED', status: 302 }, 'a redirect is not followed');
  t.equal(s.sim.calls().filter((c) => c.path.startsWith('/elsewhere')).length, 0);
  t.equal(logs.length, 1, 'nine malformed answers within one second: one log line');
  clock.advance(1000);
  await client.debit(tx({ balanceId: B1 }), key());
  t.equal(logs.length, 2);
  t.match(logs[1]?.fields, { alsoSinceLastLog: 8, partner: '0019167984' });
  t.notMatch(JSON.stringify(logs), /\d{13,19}/, 'no card number in the logs');
  s.sim.configure({ misbehave: null });
  t.equal(s.sim.balance(B1)?.amount, 5000, 'no broken answer moved money');
  t.equal(kindOf(await client.debit(tx({ balanceId: B1 }), key())), 'ok', 'the pool still works after oversized answers cut short');
});

t.test('notifications go to notificationsUrl when set; a client certificate from another CA is refused', async (t) => {
  const api = await startSim(t, pki);
  const notes = await startSim(t, pki);
  const { client } = makeClient(t, api.url, pki, { notificationsUrl: notes.url + '/hooks' });
  t.equal(kindOf(await client.notify('cardUnlocked', { dcCardId: '7', date: '2025-06-17T13:42:54+00:00' }, key())), 'MALFORMED', '/hooks/notifications/... is not a path of the seed');
  t.equal(notes.sim.calls()[0]?.path, '/hooks/notifications/cardUnlocked', 'the path prefix of the URL is kept');
  const { client: plain } = makeClient(t, api.url, pki, { notificationsUrl: notes.url });
  t.equal(kindOf(await plain.notify('cardUnlocked', { dcCardId: '7', date: '2025-06-17T13:42:54+00:00' }, key())), 'ok');
  t.equal(api.sim.calls('/notifications/').length, 0, 'nothing went to the base URL');
  t.equal(notes.sim.calls('/notifications/').length, 1);

  const { client: rogue } = makeClient(t, api.url, pki, { clientCert: 'rogue' });
  t.equal(kindOf(await rogue.listBalances(USER)), 'MALFORMED', 'a 403 FORBIDDEN is no answer of a list call');
  t.equal(api.sim.calls().at(-1)?.outcome, 'forbidden', 'the partner refused the certificate');
});

t.test('the transaction object builder', async (t) => {
  const body = buildPartnerTransaction({
    balanceId: B1, resourceId: 'card-1', transactionId: '177482', type: 'pos', amountMinor: 2233, currency: 'EUR',
    originalAmountMinor: 76000, originalCurrency: 'THB', status: 'AUTHORIZED', description: 'Description', date: Date.UTC(2023, 0, 1, 10, 10, 54),
    transactionData: { mcc: '4121', lastFourDigits: '1234', cardId: '222' },
  });
  t.match(body, {
    balanceId: B1, resource: 'card', transactionId: '177482', referenceTransactionId: null, amount: 2233, originalAmount: 76000,
    originalCurrency: 'THB', date: '2023-01-01T10:10:54+00:00', transactionData: { mcc: '4121', merchantName: null, cardId: '222' },
  });
  t.match(body.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a fresh UUID v4');
  const base = { balanceId: B1, resourceId: 'c', transactionId: 't', type: 'pos', amountMinor: 1, currency: 'EUR', status: 'AUTHORIZED' } as const;
  t.throws(() => buildPartnerTransaction({ ...base, transactionData: { merchantName: 'card 5557701234561234' } }), { code: 'PARTNER_ERR_BODY' }, 'a PAN in a text field');
  t.throws(() => buildPartnerTransaction({ ...base, transactionData: { lastFourDigits: '51234' } }), { code: 'PARTNER_ERR_BODY' });
  t.throws(() => buildPartnerTransaction({ ...base, amountMinor: 1.5 }), { code: 'PARTNER_ERR_BODY' });
  t.throws(() => buildPartnerTransaction({ ...base, currency: 'eur' }), { code: 'PARTNER_ERR_BODY' });
  t.throws(() => buildPartnerTransaction({ ...base, id: 'not-a-uuid' }), { code: 'PARTNER_ERR_BODY' });
});

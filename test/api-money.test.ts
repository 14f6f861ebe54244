// Money through the management API on both HTTP servers: partner balances (create once, reload),
// internal transactions with their automatic partner postings, X-Idempotency-Key replays (also
// concurrent), the summary, the transaction history; the ledger's invariants hold afterwards.
import t from 'tap';
import { serverKinds, startApiSwitch, walletWithBalance } from './helpers/api.js';
import { checkLedger, formatReport } from '../ledger/check.js';

const DEMO = '0019167984';

for (const { kind, skip } of serverKinds()) {
  t.test(`money on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const { customerId, balanceId } = await walletWithBalance(api);
    const tx = `/secure/customers/${customerId}/balances/${balanceId}/transactions`;
    const balance = async () => (await api.get(`/secure/customers/${customerId}/balances/${balanceId}`)).json;

    t.test('partner balances: one per (configId, type, currency), reload with replay', async (t) => {
      const c = await api.post('/secure/partner-balances', { type: 'CREDIT', currency: 'EUR', configId: DEMO });
      t.equal(c.status, 201);
      t.same(c.json, { id: `pb-CREDIT-EUR-${DEMO}`, type: 'CREDIT', currency: 'EUR', configId: DEMO, available: 0, blocked: 0 });
      const again = await api.post('/secure/partner-balances', { type: 'CREDIT', currency: 'EUR', configId: DEMO });
      t.equal(again.status, 200, 'existing: 200');
      t.same(again.json, c.json);
      t.equal((await api.post('/secure/partner-balances', { type: 'CREDIT', currency: 'EUR', configId: 'nope' })).json.title, 'PROGRAM_NOT_FOUND');
      t.match((await api.post('/secure/partner-balances', { type: 'LOAN', currency: 'EUR', configId: DEMO })).json, { title: 'VALIDATION_ERROR', detail: 'type must be one of DEPOSIT, CREDIT, COMPANY' });

      const key = { 'X-Idempotency-Key': 'reload-1' };
      const r1 = await api.post(`/secure/partner-balances/${c.json.id}/reload`, { amount: 50_000 }, { headers: key });
      t.equal(r1.status, 200);
      t.equal(r1.json.available, 50_000);
      const r2 = await api.post(`/secure/partner-balances/${c.json.id}/reload`, { amount: 50_000 }, { headers: key });
      t.equal(r2.text, r1.text, 'a replay answers the first answer');
      t.equal(r2.headers['idempotent-replayed'], 'true');
      t.equal((await api.get(`/secure/partner-balances/${c.json.id}`)).json.available, 50_000, 'and moves nothing');
      const reused = await api.post(`/secure/partner-balances/${c.json.id}/reload`, { amount: 1 }, { headers: key });
      t.equal(reused.status, 409);
      t.equal(reused.json.title, 'IDEMPOTENCY_KEY_REUSED');
      t.equal((await api.post(`/secure/partner-balances/${c.json.id}/reload`, { amount: 1 }, { headers: { 'X-Idempotency-Key': 'bad key!' } })).json.title, 'VALIDATION_ERROR');
      t.equal((await api.post(`/secure/partner-balances/pb-DEPOSIT-EUR-${DEMO}/reload`, { amount: 1 })).json.title, 'PARTNER_BALANCE_NOT_FOUND');
      t.equal((await api.get('/secure/partner-balances/pb-DEPOSIT-EUR-nope')).status, 404);
      t.equal((await api.post(`/secure/partner-balances/${c.json.id}/reload`, { amount: 0 })).json.detail, 'amount must be between 1 and 999999999999 minor units');
    });

    t.test('internal transactions with partner postings', async (t) => {
      const key = { 'X-Idempotency-Key': 'topup-1' };
      const top = await api.post(tx, { type: 'TOPUP', amount: 10_000, currency: 'EUR', description: 'salary' }, { headers: key });
      t.equal(top.status, 201);
      t.match(top.json, { balanceId, type: 'topUp', category: 'CREDIT', amount: 10_000, currency: 'EUR', status: 'CLEARED', description: 'salary', cardId: null });
      t.match(top.json.id, /^[0-9a-f-]{36}$/);
      t.match(await balance(), { available: 10_000, blocked: 0 });
      t.equal((await api.get(`/secure/partner-balances/pb-CREDIT-EUR-${DEMO}`)).json.available, 40_000, 'the credit balance paid for it');
      const replay = await api.post(tx, { type: 'TOPUP', amount: 10_000, currency: 'EUR', description: 'salary' }, { headers: key });
      t.equal(replay.status, 201);
      t.equal(replay.text, top.text, 'replay: the first answer, byte for byte');
      t.match(await balance(), { available: 10_000 }, 'moved once');

      const concurrent = await Promise.all(Array.from({ length: 8 }, () =>
        api.post(tx, { type: 'TOPUP', amount: 1_000, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': 'topup-race' } })));
      t.same(new Set(concurrent.map((r) => r.status)), new Set([201]));
      t.equal(new Set(concurrent.map((r) => r.text)).size, 1, 'eight concurrent first requests, one answer');
      t.match(await balance(), { available: 11_000 }, 'and one posting');

      const fee = await api.post(tx, { type: 'FEE', amount: 500, currency: 'EUR' });
      t.match(fee.json, { type: 'fee', category: 'DEBIT', amount: 500 });
      t.match(await balance(), { available: 10_500 });
      const tooMuch = await api.post(tx, { type: 'WITHDRAWAL', amount: 1_000_000, currency: 'EUR' });
      t.equal(tooMuch.status, 409);
      t.equal(tooMuch.json.title, 'INSUFFICIENT_FUNDS');
      const credit = await api.post(tx, { type: 'TOPUP', amount: 1_000_000, currency: 'EUR' });
      t.equal(credit.status, 409);
      t.equal(credit.json.title, 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE');
      t.equal((await api.post(tx, { type: 'TOPUP', amount: 1, currency: 'PLN' })).json.title, 'CURRENCY_MISMATCH');
      t.equal((await api.post(tx, { type: 'BONUS', amount: 1, currency: 'EUR' })).json.title, 'VALIDATION_ERROR');
      t.equal((await api.post(tx, { type: 'TOPUP', amount: 1.5, currency: 'EUR' })).json.detail, 'amount must be an integer');
      t.match(await balance(), { available: 10_500 }, 'refusals move nothing');

      const list = await api.get(`/secure/transactions?balanceId=${encodeURIComponent(balanceId)}&limit=2`);
      t.equal(list.status, 200);
      t.equal(list.json.items.length, 2);
      t.ok(list.json.next !== null, 'a next page');
      const all: Array<Record<string, unknown>> = [...list.json.items];
      let next: string | null = list.json.next;
      while (next !== null) {
        const p = await api.get(`/secure/transactions?balanceId=${encodeURIComponent(balanceId)}&limit=2&cursor=${encodeURIComponent(next)}`);
        all.push(...p.json.items);
        next = p.json.next;
      }
      t.same(all.filter((x) => x.reason === 'APPROVED' || x.reason === undefined).map((x) => x.type), ['fee', 'topUp', 'topUp'], 'approved ones, newest first');
      t.ok(all.some((x) => x.processingStatus === 'DECLINED' && x.reason === 'INSUFFICIENT_FUNDS'), 'refusals are in the history');
      const one = await api.get(`/secure/transactions/${top.json.id}`);
      t.same(one.json, top.json, 'GET by id');
      t.equal((await api.get('/secure/transactions/00000000-0000-4000-8000-000000000000')).json.title, 'TRANSACTION_NOT_FOUND');
      t.equal((await api.get('/secure/transactions')).json.detail, 'balanceId or cardId is required');
      t.equal((await api.get(`/secure/transactions?balanceId=x&limit=1000`)).json.detail, 'limit must be between 1 and 100');
    });

    t.test('summary: users, partners, wallet per currency', async (t) => {
      const dep = await api.post('/secure/partner-balances', { type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
      await api.post(`/secure/partner-balances/${dep.json.id}/reload`, { amount: 7_000 });
      const sum = await api.get('/secure/summary');
      t.equal(sum.status, 200);
      const eur = sum.json.currencies.find((c: { currency: string }) => c.currency === 'EUR');
      t.same(eur, { currency: 'EUR', users: 10_500, partners: 39_000 + 7_000, wallet: 10_500 + 46_000 });
    });

    t.test('ledger invariants hold', async (t) => {
      const report = await checkLedger(s.redis.client, s.app.history.reads);
      t.ok(report.ok, formatReport(report));
    });
  });
}

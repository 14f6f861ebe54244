// The n12 bound through the management API (SPEC §2.2): an amount above 999,999,999,999 minor
// units, or a top-up / internal transaction / partner reload that would take a balance past it,
// answers 400 AMOUNT_TOO_LARGE and moves nothing; the ledger's invariants hold afterwards.
import t from 'tap';
import { serverKinds, startApiSwitch, walletWithBalance } from './helpers/api.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { MAX_AMOUNT_MINOR } from '../ledger/index.js';

const DEMO = '0019167984';

for (const { kind, skip } of serverKinds()) {
  t.test(`amount bounds on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const { customerId, balanceId } = await walletWithBalance(api);
    const tx = `/secure/customers/${customerId}/balances/${balanceId}/transactions`;
    const balance = async () => (await api.get(`/secure/customers/${customerId}/balances/${balanceId}`)).json;

    const dep = await api.post('/secure/partner-balances', { type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
    const reload = `/secure/partner-balances/${dep.json.id}/reload`;
    const over = await api.post(reload, { amount: MAX_AMOUNT_MINOR + 1 });
    t.match({ status: over.status, title: over.json.title }, { status: 400, title: 'AMOUNT_TOO_LARGE' }, 'reload amount above the maximum');
    t.equal((await api.post(reload, { amount: MAX_AMOUNT_MINOR - 10 })).status, 200);
    const past = await api.post(reload, { amount: 11 });
    t.match({ status: past.status, title: past.json.title }, { status: 400, title: 'AMOUNT_TOO_LARGE' }, 'reload that would pass the maximum');
    t.equal((await api.get(`/secure/partner-balances/${dep.json.id}`)).json.available, MAX_AMOUNT_MINOR - 10, 'nothing moved');

    const big = await api.post(tx, { type: 'TOPUP', amount: MAX_AMOUNT_MINOR + 1, currency: 'EUR' });
    t.match({ status: big.status, title: big.json.title }, { status: 400, title: 'AMOUNT_TOO_LARGE' }, 'top-up amount above the maximum');
    t.equal(big.json.detail, `amount must be at most ${MAX_AMOUNT_MINOR} minor units, got ${MAX_AMOUNT_MINOR + 1}`, 'the field by its API name, one maximum');
    const huge = await api.post(tx, { raw: '{"type":"TOPUP","amount":100000000000000000000,"currency":"EUR"}' } as never, { raw: '{"type":"TOPUP","amount":100000000000000000000,"currency":"EUR"}' });
    t.match({ status: huge.status, title: huge.json.title, detail: huge.json.detail }, { status: 400, title: 'AMOUNT_TOO_LARGE', detail: new RegExp(`^amount must be at most ${MAX_AMOUNT_MINOR} minor units`) }, 'past 2^53 too: the same maximum');
    const zero = await api.post(tx, { type: 'TOPUP', amount: 0, currency: 'EUR' });
    t.equal(zero.json.detail, `amount must be between 1 and ${MAX_AMOUNT_MINOR} minor units`, 'the same maximum below too');
    for (const r of [big, huge, zero, over]) t.notMatch(r.text, /amountMinor|9007199254740991/, 'no internal name, no second maximum');
    t.equal((await api.post(tx, { type: 'TOPUP', amount: MAX_AMOUNT_MINOR, currency: 'EUR' })).status, 201, 'up to the maximum');
    const more = await api.post(tx, { type: 'TOPUP', amount: 1, currency: 'EUR' });
    t.match({ status: more.status, title: more.json.title }, { status: 400, title: 'AMOUNT_TOO_LARGE' }, 'top-up that would pass the maximum');
    t.match(await balance(), { available: MAX_AMOUNT_MINOR, blocked: 0 });

    const report = await checkLedger(s.redis.client, s.app.history.reads);
    t.ok(report.ok, 'ledger check passes', { diagnostic: !report.ok, report: formatReport(report) });
  });
}

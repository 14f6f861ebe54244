// Card limits through the management API (GET/PUT .../cards/{cardId}/limits), on both HTTP
// servers, taking effect on the very next authorization over TCP.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { serverKinds, startApiSwitch, walletWithBalance } from './helpers/api.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { checkLedger } from '../ledger/check.js';

function auth(pan: string, expiry: string, stan: string, amountMinor: number, proc = '00'): IsoJson {
  return {
    0: '0100', 2: pan, 3: proc + '0000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    14: expiry, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  } as IsoJson;
}

for (const { kind, skip } of serverKinds()) {
  t.test(`card limits, HTTP on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const { customerId, balanceId } = await walletWithBalance(api);
    const customer = `/secure/customers/${customerId}`;
    t.equal((await api.post(`${customer}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 100_000, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': 'lim-top' } })).status, 201);
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const card = await api.post(`${customer}/cards/virtual`, { balanceId }, {
      headers: { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') },
    });
    const full = JSON.parse(new TextDecoder().decode((await compactDecrypt(card.json.payload, privateKey)).plaintext)) as Record<string, string>;
    const pan = full.cardNo!;
    const exp = full.exp!.slice(2, 4) + full.exp!.slice(5, 7);
    const limits = `${customer}/cards/${full.id}/limits`;

    t.same((await api.get(limits)).json, { card: {}, program: {}, effective: {} }, 'the demo program sets none');
    t.equal((await api.call('PUT', limits, { body: { perTransaction: -1 } })).json.title, 'VALIDATION_ERROR');
    t.equal((await api.call('PUT', limits, { body: { weekly: 5 } })).status, 400, 'unknown field');
    t.equal((await api.call('PUT', `${customer}/cards/nope/limits`, { body: {} })).status, 404);
    const put = await api.call('PUT', limits, { body: { perTransaction: 5_000, dailyCount: 2, atmDailyAmount: 3_000 } });
    t.equal(put.status, 200);
    t.same(put.json.effective, { perTransaction: 5_000, dailyCount: 2, atmDailyAmount: 3_000 });

    const iso = await IsoClient.connect(s.app.isoPort);
    t.teardown(() => iso.close());
    t.equal((await iso.request(auth(pan, exp, '000001', 6_000)))['39'], '61', 'over the per-transaction limit');
    t.equal((await iso.request(auth(pan, exp, '000002', 4_000, '01')))['39'], '61', 'over the ATM daily amount');
    t.equal((await iso.request(auth(pan, exp, '000003', 1_000)))['39'], '00');
    t.equal((await iso.request(auth(pan, exp, '000004', 1_000)))['39'], '00');
    t.equal((await iso.request(auth(pan, exp, '000005', 1_000)))['39'], '65', 'the third of the day is over the count');

    t.equal((await api.call('PUT', limits, { body: {} })).status, 200, 'card limits removed');
    t.equal((await iso.request(auth(pan, exp, '000006', 6_000)))['39'], '00', 'the next authorization sees it');
    t.match((await api.get(`${customer}/balances/${balanceId}`)).json, { available: 100_000 - 8_000, blocked: 8_000 });
    t.ok((await checkLedger(s.redis.client, s.app.history.reads)).ok, 'ledger check passes');
  });
}

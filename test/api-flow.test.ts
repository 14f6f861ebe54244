// The acceptance flow over real HTTP and real TCP, on both HTTP servers: wallet → balance →
// deposit and credit partner balances reloaded → top-up → virtual card as JWE → the decrypted PAN
// in an 0100 (peer: iso_8583) approved 00 → lock 7 → the next 0100 declined 59 → unlock → 00.
// The live feed shows each answer with the PAN masked.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { compactDecrypt } from 'jose';
import { serverKinds, startApiSwitch } from './helpers/api.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { openFeed } from './helpers/ws.js';
import { checkLedger, formatReport } from '../ledger/check.js';

const DEMO = '0019167984';

function auth(pan: string, expiry: string, stan: string, amountMinor: number): IsoJson {
  return {
    0: '0100', 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    12: '101500', 13: '1125', 14: expiry, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(23) + 'WARSAW'.padEnd(14) + 'POL', 49: '978',
  } as IsoJson;
}

for (const { kind, skip } of serverKinds()) {
  t.test(`acceptance flow, HTTP on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const feed = await openFeed(`ws://127.0.0.1:${s.app.httpPort}/feed`);
    t.teardown(() => feed.close());
    t.equal(JSON.parse(await feed.next()).type, 'hello');

    const w = await api.post('/lifecycle/v1/wallet', { firstName: 'Jan', lastName: 'Kowalski', phone: '+48600700800', email: 'jan@example.pl', birthDate: '1985-05-17', state: 'Malopolskie', kyc: 'SUCCESS' });
    t.equal(w.status, 201);
    const customer = `/secure/customers/${w.json.id}`;
    const b = await api.post(`${customer}/balances`, { currency: 'EUR', configId: DEMO });
    t.equal(b.status, 201);
    const balanceId = b.json.id as string;

    for (const [type, amount] of [['DEPOSIT', 1_000_000], ['CREDIT', 500_000]] as const) {
      const p = await api.post('/secure/partner-balances', { type, currency: 'EUR', configId: DEMO });
      t.equal(p.status, 201, `${type} balance`);
      const r = await api.post(`/secure/partner-balances/${p.json.id}/reload`, { amount }, { headers: { 'X-Idempotency-Key': `reload-${type}` } });
      t.equal(r.json.available, amount, `${type} reloaded`);
    }
    const top = await api.post(`${customer}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 20_000, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': 'flow-topup' } });
    t.equal(top.status, 201);
    t.match(top.json, { type: 'topUp', status: 'CLEARED', amount: 20_000 });

    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const card = await api.post(`${customer}/cards/virtual`, { balanceId, configId: DEMO }, {
      headers: { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') },
    });
    t.equal(card.status, 201);
    const full = JSON.parse(new TextDecoder().decode((await compactDecrypt(card.json.payload, privateKey)).plaintext)) as Record<string, string>;
    const pan = full.cardNo as string;
    const expiry = (full.exp as string).slice(2, 4) + (full.exp as string).slice(5, 7);
    const masked = `${pan.slice(0, 6)}******${pan.slice(-4)}`;

    const iso = await IsoClient.connect(s.app.isoPort);
    t.teardown(() => iso.close());
    const feedAnswer = async (stan: string) => {
      for (;;) {
        const m = JSON.parse(await feed.next()) as { type: string; events: Array<Record<string, unknown>> };
        const e = m.events?.find((x) => x.mti === '0100' && x.maskedPan === masked);
        if (e !== undefined) return e;
        void stan;
      }
    };

    const a1 = await iso.request(auth(pan, expiry, '000001', 2_500));
    t.equal(a1['39'], '00', 'approved');
    t.match(a1['38'], /^[0-9A-Z]{6}$/);
    t.match(await feedAnswer('000001'), { responseCode: '00', maskedPan: masked, amountMinor: 2_500, currency: 'EUR' }, 'the feed shows it, PAN masked');
    t.match((await api.get(`${customer}/balances/${balanceId}`)).json, { available: 17_500, blocked: 2_500 });

    t.equal((await api.post(`${customer}/cards/${full.id}/lock`, { reason: 7 })).status, 204, 'lock 7 (suspected fraud)');
    const a2 = await iso.request(auth(pan, expiry, '000002', 1_000));
    t.equal(a2['39'], '59', 'the very next authorization is declined 59');
    t.match(await feedAnswer('000002'), { responseCode: '59' });

    t.equal((await api.post(`${customer}/cards/${full.id}/unlock`)).status, 204);
    const a3 = await iso.request(auth(pan, expiry, '000003', 1_000));
    t.equal(a3['39'], '00', 'approved again after unlock');
    t.match((await api.get(`${customer}/balances/${balanceId}`)).json, { available: 16_500, blocked: 3_500 });

    t.equal((await api.post(`${customer}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204);
    t.equal((await iso.request(auth(pan, expiry, '000004', 1_000)))['39'], '62', 'a customer transactional lock declines AML (62)');
    t.equal((await api.delete(`${customer}/transactional-locks/FRAUD_SUSPECTED`)).status, 204);

    const history = await api.get(`/secure/transactions?cardId=${full.id}&limit=10`);
    t.equal(history.status, 200);
    t.same(history.json.items.map((x: { responseCode: string }) => x.responseCode), ['62', '00', '59', '00'], 'card history, newest first');
    t.notOk(s.logs.some((l) => l.includes(pan)), 'the PAN is in no log line');
    const report = await checkLedger(s.redis.client, s.app.history.reads);
    t.ok(report.ok, formatReport(report));
  });
}

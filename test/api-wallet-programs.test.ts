// The wallet update and read (PUT/GET /lifecycle/v1/wallet/{customerId}) and the programs in
// force (GET /secure/programs), on both HTTP servers. A PENDING customer is no dead end: PUT kyc
// SUCCESS lets a balance be created; REJECTED stops new balances and cards but an existing card
// still authorizes. The programs answer shows every setting, the partner balances per currency
// and no key material.
import t from 'tap';
import { makePki } from './helpers/pki.js';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { issueVirtualCard, serverKinds, startApiSwitch } from './helpers/api.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';

const DEMO = '0019167984';
const WALLET = { firstName: 'Ada', lastName: 'Lovelace', phone: '+48500100200', email: 'ada@example.com', birthDate: '1990-12-10', state: 'Mazowieckie' };

function auth(pan: string, expiry: string, stan: string, amountMinor: number): IsoJson {
  return {
    0: '0100', 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: '1125101500', 11: stan,
    12: '101500', 13: '1125', 14: expiry, 18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001',
    42: 'MERCHANT0000001', 43: 'SHOP'.padEnd(22) + 'WARSAW'.padEnd(15) + 'POL', 49: '978',
  } as IsoJson;
}

for (const { kind, skip } of serverKinds()) {
  t.test(`wallet update and read, HTTP on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const w = await api.post('/lifecycle/v1/wallet', { ...WALLET, kyc: 'PENDING' });
    t.equal(w.status, 201);
    const id = w.json.id as number;
    const wallet = `/lifecycle/v1/wallet/${id}`;
    const customer = `/secure/customers/${id}`;

    const read = await api.get(wallet);
    t.equal(read.status, 200);
    t.same(read.json, { id, ...WALLET, kyc: 'PENDING' }, 'GET answers the id (an integer, as POST did), the profile and kyc');

    const refused = await api.post(`${customer}/balances`, { currency: 'EUR', configId: DEMO });
    t.equal(refused.status, 409);
    t.equal(refused.json.title, 'KYC_REQUIRED', 'PENDING: no balance');

    const ok = await api.call('PUT', wallet, { body: { kyc: 'SUCCESS' } });
    t.equal(ok.status, 200);
    t.same(ok.json, { id, ...WALLET, kyc: 'SUCCESS' }, 'PUT answers the customer; fields left out keep their value');
    const b = await api.post(`${customer}/balances`, { currency: 'EUR', configId: DEMO });
    t.equal(b.status, 201, 'after kyc SUCCESS the balance is created');

    const moved = await api.call('PUT', wallet, { body: { phone: '48600700800', email: 'ada@example.org', state: 'Pomorskie' } });
    t.equal(moved.status, 200);
    t.same(moved.json, { id, ...WALLET, phone: '48600700800', email: 'ada@example.org', state: 'Pomorskie', kyc: 'SUCCESS' });
    t.same((await api.get(wallet)).json, moved.json, 'GET shows the update');
    t.match((await api.get(customer)).json, { kyc: 'SUCCESS', profile: { phone: '48600700800' } }, 'the /secure view agrees');

    t.test('validation as on POST; an empty body or unknown field is refused naming it', async (t) => {
      const rows: Array<[unknown, string]> = [
        [{}, 'body must set at least 1 of firstName, lastName, phone, email, birthDate, state, kyc'],
        [{ nickname: 'Ada' }, 'nickname is not a known field'],
        [{ kyc: 'MAYBE' }, 'kyc must be one of SUCCESS, PENDING, REJECTED'],
        [{ kyc: null }, 'kyc must be a string'],
        [{ email: 'not-an-address' }, 'email must be an e-mail address'],
        [{ birthDate: '2999-01-01' }, 'birthDate must be a real date YYYY-MM-DD, not in the future'],
        [{ phone: 'call me' }, 'phone must match'],
        [{ firstName: '' }, 'firstName must be 1..100 characters long'],
        [[], 'body must be a JSON object'],
      ];
      for (const [body, detail] of rows) {
        const r = await api.call('PUT', wallet, { body });
        t.equal(r.status, 400, detail);
        t.equal(r.json.title, 'VALIDATION_ERROR');
        t.match(r.json.detail, detail);
      }
      const bad = await api.call('PUT', wallet, { raw: '{"kyc": "SUCC', headers: { 'content-type': 'application/json' } });
      t.same(bad.json, { title: 'MALFORMED_JSON', detail: 'the body is not valid JSON' });
      t.same((await api.get(wallet)).json, moved.json, 'refused updates changed nothing');
    });

    t.test('unknown customer: 404 CUSTOMER_NOT_FOUND', async (t) => {
      for (const r of [await api.get('/lifecycle/v1/wallet/987654'), await api.call('PUT', '/lifecycle/v1/wallet/987654', { body: { kyc: 'SUCCESS' } })]) {
        t.equal(r.status, 404);
        t.same(r.json, { title: 'CUSTOMER_NOT_FOUND', detail: 'customer 987654 does not exist' });
      }
      const badId = await api.get('/lifecycle/v1/wallet/a%20b');
      t.equal(badId.status, 400);
      t.equal(badId.json.title, 'VALIDATION_ERROR');
      t.equal((await api.call('DELETE', wallet)).status, 405);
    });

    t.test('REJECTED stops new balances and cards; an existing card still authorizes', async (t) => {
      const balanceId = b.json.id as string;
      const top = await api.post(`${customer}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: 10_000, currency: 'EUR' });
      t.equal(top.status, 201);
      const { pan, expiry } = await issueVirtualCard(api, String(id), balanceId);
      const rejected = await api.call('PUT', wallet, { body: { kyc: 'REJECTED' } });
      t.equal(rejected.json.kyc, 'REJECTED');
      t.equal((await api.post(`${customer}/balances`, { currency: 'PLN', configId: DEMO })).json.title, 'KYC_REQUIRED', 'no new balance');
      t.equal((await api.post(`${customer}/cards/virtual`, { balanceId, configId: DEMO })).json.title, 'KYC_REQUIRED', 'no new card');
      const iso = await IsoClient.connect(s.app.isoPort);
      t.teardown(() => iso.close());
      t.equal((await iso.request(auth(pan, expiry, '000001', 2_500)))['39'], '00', 'the existing card is approved');
      t.equal((await api.post(`${customer}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204);
      t.equal((await iso.request(auth(pan, expiry, '000002', 1_000)))['39'], '62', 'a transactional lock is what stops it');
      t.notOk(s.logs.some((l) => l.includes(pan)), 'no PAN in the logs');
    });
  });

  t.test(`programs in force, HTTP on ${kind}`, { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'antaca-programs-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'programs.json');
    // Real key material under names the answer must not reveal.
    const pki = makePki(t);
    copyFileSync(pki.path('client.pem'), join(dir, 'partner-cert.pem'));
    copyFileSync(pki.path('client.key'), join(dir, 'partner-key.pem'));
    writeFileSync(file, JSON.stringify([{
      configId: 'P-SHARED', bin: '44445555', currency: 'PLN', mode: 'SHARED_AUTHORIZATION',
      partner: { baseUrl: 'https://user:s3cret@partner.example:9443/api', cert: join(dir, 'partner-cert.pem'), key: join(dir, 'partner-key.pem') },
      fees: { POS: { fixed: 10, bps: 0 } },
    }]));
    const s = await startApiSwitch(t, kind, { PROGRAMS_FILE: file });
    const api = s.api;

    const list = await api.get('/secure/programs');
    t.equal(list.status, 200);
    t.same(list.json.items.map((p: { configId: string }) => p.configId), ['P-SHARED', DEMO], 'every program, the demo one included');
    const demo = list.json.items[1];
    t.match(demo, {
      configId: DEMO, bin: '555770', panLength: 16, currency: 'EUR', mode: 'INTERNAL', depositRequired: false, creditRequired: false,
      budgetMs: 2000, cardValidityMonths: 36, standIn: { rule: 'DECLINE', limit: null }, partner: null,
      fees: { POS: { fixed: 0, bps: 0 }, ECOM: { fixed: 0, bps: 0 }, ATM: { fixed: 0, bps: 0 }, fxBps: 0 },
      limits: { perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null }, fxRates: {}, holdExpiryDays: 7,
      partnerBalances: { EUR: { DEPOSIT: null, CREDIT: null, COMPANY: null } },
    }, 'the demo program with its defaults');
    t.equal(demo.holdExpiryDaysByMcc['7011'], 30);
    t.match(demo.notes.join('\n'), /EUR: no DEPOSIT balance and depositRequired is false: debits are held against the user balance only/);

    const shared = list.json.items[0];
    t.match(shared, {
      mode: 'SHARED_AUTHORIZATION', depositRequired: true, creditRequired: true, panLength: 16,
      partner: { baseUrl: 'https://***@partner.example:9443/api', notificationsUrl: null, timeoutMs: 1500, certConfigured: true, keyConfigured: true, caConfigured: false },
    });
    t.notMatch(list.text, /s3cret|partner-cert|partner-key/, 'no partner credentials or key paths');
    t.match(shared.notes.join('\n'), /PLN: no DEPOSIT balance and depositRequired is true: every debit declines DEPOSIT_BALANCE_NOT_FOUND/);
    t.match(shared.notes.join('\n'), /no COMPANY balance/);

    const dep = await api.post('/secure/partner-balances', { type: 'DEPOSIT', currency: 'EUR', configId: DEMO });
    t.equal(dep.status, 201);
    await api.post('/secure/partner-balances', { type: 'CREDIT', currency: 'USD', configId: DEMO });
    const one = await api.get(`/secure/programs/${DEMO}`);
    t.equal(one.status, 200);
    t.same(one.json.partnerBalances, {
      EUR: { DEPOSIT: { id: dep.json.id, available: 0, blocked: 0 }, CREDIT: null, COMPANY: null },
      USD: { DEPOSIT: null, CREDIT: { id: `pb-CREDIT-USD-${DEMO}`, available: 0, blocked: 0 }, COMPANY: null },
    }, 'each currency the program has a partner balance in');
    t.match(one.json.notes.join('\n'), /EUR: debits are held against DEPOSIT balance .* \(it is empty: every debit declines until it is reloaded\)/);

    const missing = await api.get('/secure/programs/0000000000');
    t.equal(missing.status, 404);
    t.same(missing.json, { title: 'PROGRAM_NOT_FOUND', detail: 'no program with configId 0000000000' });
    t.equal((await api.get('/secure/programs/a%20b')).status, 400);
  });
}

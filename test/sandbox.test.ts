// Sandbox simulation routes on both HTTP servers: each simulated message goes through the switch's
// real ISO listener, and the answer carries the record the switch wrote. With the sandbox off the
// routes answer 404 (before looking at the body) and stay in /openapi.json, which is the same
// document in every configuration. On by default only for development. No answer shows a PAN.
import t from 'tap';
import { serverKinds, startApiSwitch, walletWithBalance, issueVirtualCard, type ApiClient, type ApiAnswer } from './helpers/api.js';
import { loadConfig } from '../app/config.js';
import { createPublicKey } from 'node:crypto';
import { CompactEncrypt } from 'jose';

const PATHS = ['/sandbox/simulate/authorization', '/sandbox/simulate/clearing', '/sandbox/simulate/reversal', '/sandbox/simulate/advice'];

async function fundedCard(api: ApiClient, topUpMinor: number): Promise<{ customerId: string; balanceId: string; cardId: string; pan: string }> {
  const { customerId, balanceId } = await walletWithBalance(api);
  const top = await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount: topUpMinor, currency: 'EUR' },
    { headers: { 'X-Idempotency-Key': `sandbox-topup-${balanceId}` } });
  if (top.status !== 201 && top.status !== 200) throw new Error(`top-up: ${top.status} ${top.text}`);
  const card = await issueVirtualCard(api, customerId, balanceId);
  return { customerId, balanceId, cardId: card.id, pan: card.pan };
}

async function available(api: ApiClient, customerId: string, balanceId: string): Promise<number> {
  const b = await api.get(`/secure/customers/${customerId}/balances/${balanceId}`);
  return b.json.available as number;
}

for (const { kind, skip } of serverKinds()) {
  t.test(`sandbox on (${kind})`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind, { SANDBOX: '1' });
    const api = s.api;
    const c = await fundedCard(api, 50_000);
    const answers: ApiAnswer[] = [];
    const post = async (path: string, body: unknown): Promise<ApiAnswer> => { const a = await api.post(path, body); answers.push(a); return a; };

    t.test('in /openapi.json under the sandbox tag, with schemas', async (t) => {
      const doc = (await api.get('/openapi.json')).json;
      t.ok(doc.tags.some((x: { name: string }) => x.name === 'sandbox'));
      for (const p of PATHS) {
        const op = doc.paths[p]?.post;
        t.ok(op, `${p} documented`);
        t.same(op.tags, ['sandbox']);
        t.ok(op.requestBody.content['application/json'].schema.properties, `${p} request schema`);
        t.ok(op.responses['200'].content['application/json'].schema.properties.record, `${p} response schema`);
      }
    });

    t.test('authorize, then clear', async (t) => {
      const a = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 1_250, merchantName: 'CORNER SHOP', mcc: '5812' });
      t.equal(a.status, 200, a.text);
      t.equal(a.json.responseCode, '00');
      t.equal(a.json.reason, 'APPROVED');
      t.equal(a.json.request.mti, '0100');
      t.equal(a.json.response.mti, '0110');
      t.match(a.json.request.fields['2 Primary account number (PAN)'] ?? Object.values(a.json.request.fields)[0], /^\d{6}\*+\d{4}$/, 'PAN masked');
      t.equal(a.json.record.status, 'AUTHORIZED');
      t.equal(a.json.record.amount, 1_250);
      t.equal(a.json.record.cardId, c.cardId);
      t.equal(a.json.record.transactionData.merchantName, 'CORNER SHOP');
      t.equal(await available(api, c.customerId, c.balanceId), 50_000 - 1_250);

      const cl = await post('/sandbox/simulate/clearing', { transactionId: a.json.record.id });
      t.equal(cl.status, 200, cl.text);
      t.equal(cl.json.request.mti, '0220');
      t.equal(cl.json.responseCode, '00');
      t.ok(Object.keys(cl.json.request.fields).some((k) => k.startsWith('90 ')), 'field 90 names the original');
      const orig = await api.get(`/secure/transactions/${a.json.record.id}`);
      t.equal(orig.json.status, 'CLEARED');
      t.equal(await available(api, c.customerId, c.balanceId), 50_000 - 1_250);
    });

    t.test('authorize, then reverse in full by the ledger transaction id: the balance is restored', async (t) => {
      const before = await available(api, c.customerId, c.balanceId);
      const a = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 3_000 });
      t.equal(a.json.responseCode, '00');
      t.equal(await available(api, c.customerId, c.balanceId), before - 3_000);
      const r = await post('/sandbox/simulate/reversal', { transactionId: a.json.record.externalTransactionId });
      t.equal(r.status, 200, r.text);
      t.equal(r.json.request.mti, '0400');
      t.equal(r.json.response.mti, '0410');
      t.equal(r.json.responseCode, '00');
      t.equal(r.json.record.referenceExternalTransactionId, a.json.record.externalTransactionId);
      t.equal((await api.get(`/secure/transactions/${a.json.record.id}`)).json.status, 'REVERSED');
      t.equal(await available(api, c.customerId, c.balanceId), before);
    });

    t.test('partial reversal, as an advice', async (t) => {
      const before = await available(api, c.customerId, c.balanceId);
      const a = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 2_000 });
      const r = await post('/sandbox/simulate/reversal', { transactionId: a.json.record.id, finalAmount: 1_500, advice: true });
      t.equal(r.status, 200, r.text);
      t.equal(r.json.request.mti, '0420');
      t.equal(r.json.responseCode, '00');
      t.ok(Object.keys(r.json.request.fields).some((k) => k.startsWith('95 ')), 'field 95 carries the final amount');
      const orig = (await api.get(`/secure/transactions/${a.json.record.id}`)).json;
      t.equal(orig.reversedAmount, 500);
      t.equal(await available(api, c.customerId, c.balanceId), before - 1_500);
    });

    t.test('advice and ATM', async (t) => {
      const adv = await post('/sandbox/simulate/advice', { cardId: c.cardId, amount: 700, mti: '0120' });
      t.equal(adv.status, 200, adv.text);
      t.equal(adv.json.response.mti, '0130');
      t.equal(adv.json.record.mti, '0120');
      const atm = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 1_000, processingCode: '01', mti: '0200' });
      t.equal(atm.json.response.mti, '0210');
      t.equal(atm.json.record.type, 'ATM');
      const declined = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 10_000_000 });
      t.equal(declined.status, 200);
      t.equal(declined.json.responseCode, '51');
      t.equal(declined.json.record.processingStatus, 'DECLINED');
    });

    t.test('problems', async (t) => {
      const unknown = await post('/sandbox/simulate/authorization', { cardId: 'no-such-card', amount: 100 });
      t.equal(unknown.status, 404);
      t.equal(unknown.json.title, 'CARD_NOT_FOUND');
      const bad = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 'ten' });
      t.equal(bad.status, 400);
      t.equal(bad.json.title, 'VALIDATION_ERROR');
      t.match(bad.json.detail, /amount/);
      const proc = await post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 1, processingCode: '99' });
      t.equal(proc.status, 400);
      t.match(proc.json.detail, /processingCode/);
      const noMti = await post('/sandbox/simulate/advice', { cardId: c.cardId, amount: 1 });
      t.match(noMti.json.detail, /mti is required/);
      const noTx = await post('/sandbox/simulate/clearing', { transactionId: '00000000-0000-4000-8000-000000000000' });
      t.equal(noTx.status, 404);
      t.equal(noTx.json.title, 'TRANSACTION_NOT_FOUND');
    });

    t.test('card data and the attacks, each decline by name', async (t) => {
      const auth = (cardData: Record<string, unknown>, o: Record<string, unknown> = {}): Promise<ApiAnswer> => post('/sandbox/simulate/authorization', { cardId: c.cardId, amount: 300, cardData, ...o });
      const ok = await auth({ method: 'ECOMMERCE' });
      t.match(ok.json, { responseCode: '00', reason: 'APPROVED' }, 'e-commerce with the card\'s CVV2');
      t.match(ok.json.request.fields, { '48 Additional data - private': /withheld/ }, 'field 48 shown withheld');
      // 000 is the card's own CVV2 one time in a thousand; then the attack is a correct CVV2 and approved.
      const wrong = await auth({ method: 'ECOMMERCE', cvv2: '000' });
      if (wrong.json.responseCode !== '00') t.match(wrong.json, { responseCode: '63', reason: 'SECURITY_VIOLATION', record: { reasonDetail: 'CVV2' } }, 'a wrong CVV2: 63 SECURITY_VIOLATION (CVV2)');
      const chip = await auth({ method: 'CHIP', atc: 700 });
      t.match(chip.json, { responseCode: '00', reason: 'APPROVED' }, 'a chip read with a valid ARQC');
      t.match(chip.json.response.fields, { '55 Reserved ISO': /withheld/ }, 'its answer carries field 55 (the ARPC), shown withheld');
      const replay = await auth({ method: 'CHIP', atc: 700 });
      t.match(replay.json, { responseCode: '63', reason: 'SECURITY_VIOLATION', record: { reasonDetail: 'ATC' } }, 'the same ATC again: a replayed cryptogram');
      t.match((await auth({ method: 'SWIPE', withoutField2: true })).json, { responseCode: '00' }, 'a swipe with the PAN only in the track');
      t.match((await auth({ method: 'ECOMMERCE', pin: '1234' }, { processingCode: '01', mti: '0200' })).json, { responseCode: '55', reason: 'INCORRECT_PIN', record: { reasonDetail: 'NO_PVV' } }, 'a PIN before any is set: 55');
      const key = createPublicKey((await api.get('/secure/encryption-key')).json.publicKey as string);
      const payload = await new CompactEncrypt(new TextEncoder().encode('{"pin":"1234"}')).setProtectedHeader({ alg: 'RSA-OAEP-256', enc: 'A256GCM' }).encrypt(key);
      t.equal((await api.post(`/secure/customers/${c.customerId}/cards/${c.cardId}/pin`, { payload }, { headers: { 'Encrypted-Request': 'true' } })).status, 204);
      t.match((await auth({ method: 'SWIPE', pin: '1234' }, { processingCode: '01', mti: '0200' })).json, { responseCode: '00' }, 'the PIN set: cash paid');
      const reasons: string[] = [];
      for (let i = 0; i < 3; i++) reasons.push((await auth({ method: 'SWIPE', pin: '9999' }, { processingCode: '01', mti: '0200' })).json.reason as string);
      t.same(reasons, ['INCORRECT_PIN', 'INCORRECT_PIN', 'CARD_LOCK_6_PIN_TRIES_EXCEEDED'], 'three wrong PINs: 55, 55, then 75 and lock 6');
      t.equal((await api.post(`/secure/customers/${c.customerId}/cards/${c.cardId}/unlock`)).status, 204);
    });

    t.test('no answer shows a PAN', async (t) => {
      t.ok(answers.length > 10);
      for (const a of answers) t.notOk(a.text.includes(c.pan), 'PAN absent');
    });
  });

  t.test(`sandbox off (${kind})`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind, { SANDBOX: '0' });
    for (const p of PATHS) {
      for (const body of [{ cardId: 'x', amount: 1 }, { nonsense: true }]) {
        const r = await s.api.post(p, body);
        t.equal(r.status, 404, p);
        t.equal(r.json.title, 'NOT_FOUND');
        t.match(r.json.detail, /the sandbox is off in this switch: SANDBOX=1 turns it on/);
      }
    }
    const doc = (await s.api.get('/openapi.json')).json;
    for (const p of PATHS) t.ok(doc.paths[p]?.post, `${p} still in /openapi.json`);
    t.match(s.logs.find((l) => l.includes('switch listening')), /"sandbox":"off \(SANDBOX=0\)"/);
  });
}

t.test('SANDBOX=1 with ISO_TLS_* stops start-up with one line', async (t) => {
  t.throws(() => loadConfig({ SANDBOX: '1', ISO_TLS_CERT: 'a', ISO_TLS_KEY: 'b', ISO_TLS_CA: 'c' }), /SANDBOX=1 needs the plain ISO link/);
  t.throws(() => loadConfig({ SANDBOX: 'yes' }), /SANDBOX=yes must be 0 or 1/);
});

t.test('the sandbox is on by default for development only', async (t) => {
  const on = loadConfig({});
  t.equal(on.sandbox, true, 'loopback HTTP, no SWITCH_SECRET');
  t.match(on.sandboxWhy, /on by default for development/);
  t.equal(loadConfig({ HTTP_HOST: '::1' }).sandbox, true);
  const secret = 'ab'.repeat(32);
  t.equal(loadConfig({ SWITCH_SECRET: secret }).sandbox, false, 'SWITCH_SECRET set: off');
  t.match(loadConfig({ SWITCH_SECRET: secret }).sandboxWhy, /off by default/);
  t.equal(loadConfig({ HTTP_HOST: '0.0.0.0', API_KEYS_FILE: '/x' }).sandbox, false, 'a non-loopback address: off');
  t.equal(loadConfig({ HTTP_TLS_CERT: 'a', HTTP_TLS_KEY: 'b', HTTP_TLS_CA: 'c' }).sandbox, false, 'HTTPS: off');
  t.equal(loadConfig({ ISO_TLS_CERT: 'a', ISO_TLS_KEY: 'b', ISO_TLS_CA: 'c' }).sandbox, false, 'TLS on the ISO link: off');
  t.equal(loadConfig({ SWITCH_SECRET: secret, SANDBOX: '1' }).sandbox, true, 'SANDBOX=1 wins');
  t.equal(loadConfig({ SANDBOX: '0' }).sandbox, false, 'SANDBOX=0 wins');
});

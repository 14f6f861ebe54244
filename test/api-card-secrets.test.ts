// Set PIN, reset CVV and the switch's encryption key through the management API, on both HTTP
// servers: every error title of the encrypted request (ENCRYPTION_REQUIRED, INVALID_PAYLOAD,
// CANT_DECRYPT_PAYLOAD), then what a user notices on the wire: the PIN set approves an ATM
// withdrawal and a wrong one declines; a reset CVV2 approves and the old one declines; a physical
// card's track-2 image is shown only with SANDBOX=1.
import t from 'tap';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, CompactEncrypt, compactDecrypt, exportJWK } from 'jose';
import { issueVirtualCard, serverKinds, startApiSwitch, walletWithBalance, type ApiClient, type ApiSwitch } from './helpers/api.js';
import { IsoClient } from './helpers/iso-client.js';
import { CardDataBuilder, type CardRef } from '../cardauth/card-data.js';

const DEMO = '0019167984';
const ACQ = '123456';
const mine = generateKeyPairSync('rsa', { modulusLength: 2048 });
const JWE = { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(mine.publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') };

async function decrypt(payload: string): Promise<Record<string, string>> {
  return JSON.parse(new TextDecoder().decode((await compactDecrypt(payload, mine.privateKey)).plaintext)) as Record<string, string>;
}

async function encryptTo(key: KeyObject, value: unknown, alg = 'RSA-OAEP-256', enc = 'A256GCM', raw?: string): Promise<string> {
  return new CompactEncrypt(new TextEncoder().encode(raw ?? JSON.stringify(value))).setProtectedHeader({ alg, enc }).encrypt(key);
}

let stan = 0;
function message(pan: string, expiry: string, mti: string, proc: string, amount: number, extra: Record<string, string>): Record<string, string> {
  const s = String(++stan).padStart(6, '0');
  return {
    0: mti, 2: pan, 3: proc + '0000', 4: String(amount).padStart(12, '0'), 7: '1125101500', 11: s, 14: expiry, 18: '6011', 22: '021',
    32: ACQ, 37: 'RRN' + s + '000', 41: 'ATM00001', 42: 'MERCHANT0000001', 49: '978', ...extra,
  };
}

async function topUp(api: ApiClient, customerId: string, balanceId: string, amount: number): Promise<void> {
  const r = await api.post(`/secure/customers/${customerId}/balances/${balanceId}/transactions`, { type: 'TOPUP', amount, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': `topup-${customerId}-${balanceId}` } });
  if (r.status !== 201) throw new Error(`top-up: ${r.status} ${r.text}`);
}

for (const { kind, skip } of serverKinds()) {
  t.test(`card secrets on ${kind}`, { skip }, async (t) => {
    const s: ApiSwitch = await startApiSwitch(t, kind);
    const api = s.api;
    const cd = CardDataBuilder.fromFile(s.keysFile);
    const iso = await IsoClient.connect(s.app.isoPort);
    t.teardown(() => iso.close());
    const { customerId, balanceId } = await walletWithBalance(api);
    await topUp(api, customerId, balanceId, 50_000);
    const base = `/secure/customers/${customerId}`;
    const card = await issueVirtualCard(api, customerId, balanceId);
    const ref: CardRef = { configId: DEMO, pan: card.pan, expiry: card.expiry };

    const ek = await api.get('/secure/encryption-key');
    const switchKey = createPublicKey(ek.json.publicKey as string);

    t.test('the encryption key: PEM SPKI RSA, kid its thumbprint', async (t) => {
      t.equal(ek.status, 200);
      t.match(ek.json.publicKey, /^-----BEGIN PUBLIC KEY-----/);
      t.equal(switchKey.asymmetricKeyType, 'rsa');
      t.equal(ek.json.kid, await calculateJwkThumbprint(await exportJWK(switchKey), 'sha256'), 'kid: RFC 7638 SHA-256 thumbprint');
      t.same((await api.get('/secure/encryption-key')).json, ek.json, 'stable');
    });

    t.test('set PIN: every error title', async (t) => {
      const path = `${base}/cards/${card.id}/pin`;
      const enc = { 'Encrypted-Request': 'true' };
      const valid = await encryptTo(switchKey, { pin: '1234' });
      const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
      const cases: Array<[string, unknown, Record<string, string>, number, string]> = [
        ['no Encrypted-Request header', { payload: valid }, {}, 400, 'ENCRYPTION_REQUIRED'],
        ['a clear PIN', { pin: '1234' }, {}, 400, 'ENCRYPTION_REQUIRED'],
        ['Encrypted-Request: false', { payload: valid }, { 'Encrypted-Request': 'false' }, 400, 'ENCRYPTION_REQUIRED'],
        ['no payload', { pin: '1234' }, enc, 400, 'INVALID_PAYLOAD'],
        ['a payload that is not a JWE', { payload: 'not-a-jwe' }, enc, 400, 'INVALID_PAYLOAD'],
        ['a payload that is not text', { payload: 42 }, enc, 400, 'INVALID_PAYLOAD'],
        ['a JWE to another key', { payload: await encryptTo(other, { pin: '1234' }) }, enc, 400, 'CANT_DECRYPT_PAYLOAD'],
        ['a JWE with another content encryption', { payload: await encryptTo(switchKey, { pin: '1234' }, 'RSA-OAEP-256', 'A128GCM') }, enc, 400, 'CANT_DECRYPT_PAYLOAD'],
        ['a JWE with a tampered ciphertext', { payload: valid.replace(/\.([A-Za-z0-9_-])([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]+)$/, (_m, a: string, b: string, tag: string) => `.${a === 'A' ? 'B' : 'A'}${b}.${tag}`) }, enc, 400, 'CANT_DECRYPT_PAYLOAD'],
        ['a PIN of 3 digits', { payload: await encryptTo(switchKey, { pin: '123' }) }, enc, 400, 'INVALID_PAYLOAD'],
        ['a PIN of 13 digits', { payload: await encryptTo(switchKey, { pin: '1234567890123' }) }, enc, 400, 'INVALID_PAYLOAD'],
        ['a PIN as a number', { payload: await encryptTo(switchKey, { pin: 1234 }) }, enc, 400, 'INVALID_PAYLOAD'],
        ['a plaintext that is not JSON', { payload: await encryptTo(switchKey, null, 'RSA-OAEP-256', 'A256GCM', 'pin=1234') }, enc, 400, 'INVALID_PAYLOAD'],
      ];
      for (const [what, body, headers, status, title] of cases) {
        const r = await api.post(path, body, { headers });
        t.equal(r.status, status, `${what}: ${status}`);
        t.equal(r.json?.title, title, `${what}: ${title}`);
        t.notOk(r.text.includes('1234'), 'the answer quotes no PIN');
      }
      const missing = await api.post(`${base}/cards/nope/pin`, { payload: valid }, { headers: enc });
      t.equal(missing.status, 404);
      t.equal(missing.json.title, 'CARD_NOT_FOUND');
      t.equal((await s.app.keys.hasKeys(DEMO)), true);
    });

    t.test('set PIN, then the PIN on the wire; a new PIN resets the failure count', async (t) => {
      const path = `${base}/cards/${card.id}/pin`;
      const atm = (pin: string): Record<string, string> => message(card.pan, card.expiry, '0200', '01', 1_000, { 52: cd.pinBlock(ref, ACQ, pin) });
      t.equal((await iso.request(atm('1234')))['39'], '55', 'before a PIN is set: 55');
      const set = await api.post(path, { payload: await encryptTo(switchKey, { pin: '1234' }) }, { headers: { 'Encrypted-Request': 'true' } });
      t.equal(set.status, 204, 'RSA-OAEP-256: 204');
      t.equal((await iso.request(atm('1234')))['39'], '00', 'the PIN set pays out');
      t.equal((await iso.request(atm('4321')))['39'], '55', 'another declines 55');
      t.equal((await iso.request(atm('4321')))['39'], '55', 'and again');
      t.equal((await s.app.keys.hasKeys(DEMO)), true);
      const again = await api.post(path, { payload: await encryptTo(switchKey, { pin: '987654' }, 'RSA-OAEP') }, { headers: { 'Encrypted-Request': 'true' } });
      t.equal(again.status, 204, 'RSA-OAEP: 204');
      t.equal((await iso.request(atm('1234')))['39'], '55', 'the old PIN no longer works, and it is the first failure since the new PIN');
      t.equal((await iso.request(atm('987654')))['39'], '00', 'the new one does (a 6-digit PIN)');
      const b = await api.get(`${base}/balances/${balanceId}`);
      t.equal(b.json.available, 48_000, 'two withdrawals paid');
    });

    t.test('reset CVV: old CVV2 declines, new one approves; PAN and expiry stay', async (t) => {
      const path = `${base}/cards/${card.id}/cvv`;
      t.equal((await api.post(path)).json.title, 'ENCRYPTION_REQUIRED', 'without Encrypt-Response: 400 ENCRYPTION_REQUIRED');
      t.equal((await api.post(path, undefined, { headers: { 'Encrypt-Response': 'true', 'Public-Key': 'bm90IGEga2V5' } })).json.title, 'INVALID_PUBLIC_KEY');
      t.equal((await api.post(`${base}/cards/nope/cvv`, undefined, { headers: JWE })).json.title, 'CARD_NOT_FOUND');
      const before = await decrypt((await api.get(`${base}/cards/${card.id}`, { headers: JWE })).json.payload);
      t.equal(before.cvv, cd.cvv2(ref), 'the card data API\'s cvv is the Visa CVV2 (service code 000)');
      const ecom = (cvv: string): Record<string, string> => message(card.pan, card.expiry, '0100', '00', 500, { 18: '5411', 22: '812', 48: '9203' + cvv });
      t.equal((await iso.request(ecom(before.cvv!)))['39'], '00');
      const r = await api.post(path, undefined, { headers: JWE });
      t.equal(r.status, 200);
      const after = await decrypt(r.json.payload);
      t.not(after.cvv, before.cvv, 'a new CVV2');
      t.equal(after.cardNo, before.cardNo, 'the same PAN');
      t.equal(after.exp, before.exp, 'the same expiry');
      t.equal((await decrypt((await api.get(`${base}/cards/${card.id}`, { headers: JWE })).json.payload)).cvv, after.cvv, 'the full data shows the new one');
      t.equal((await iso.request(ecom(before.cvv!)))['39'], '63', 'the old CVV2 declines 63');
      t.equal((await iso.request(ecom(after.cvv!)))['39'], '00', 'the new one approves');
      const third = await decrypt((await api.post(path, undefined, { headers: JWE })).json.payload);
      t.not(third.cvv, after.cvv, 'a second reset: yet another');
      t.equal((await iso.request(ecom(after.cvv!)))['39'], '63', 'and the second one declines');
      const phys = await api.post(`${base}/cards/physical`, { balanceId, deliveryAddress: { line1: 'Street 1', city: 'Warszawa', postalCode: '00-001', country: 'POL' } });
      const p = await api.post(`${base}/cards/${phys.json.id}/cvv`, undefined, { headers: JWE });
      t.equal(p.status, 409, 'a physical card: 409');
      t.equal(p.json.title, 'CARD_NOT_VIRTUAL');
      const pd = await decrypt((await api.get(`${base}/cards/${phys.json.id}`, { headers: JWE })).json.payload);
      t.equal(pd.track2, undefined, 'no track-2 image without SANDBOX=1');
    });
  });
}

t.test('SANDBOX=1: a physical card\'s track-2 image in the card data, as a test harness uses it', async (t) => {
  const s = await startApiSwitch(t, 'node', { SANDBOX: '1' });
  const api = s.api;
  const cd = CardDataBuilder.fromFile(s.keysFile);
  const { customerId, balanceId } = await walletWithBalance(api);
  await topUp(api, customerId, balanceId, 10_000);
  const base = `/secure/customers/${customerId}`;
  const phys = await api.post(`${base}/cards/physical`, { balanceId, deliveryAddress: { line1: 'Street 1', city: 'Warszawa', postalCode: '00-001', country: 'POL' } });
  await api.post(`${base}/cards/${phys.json.id}/activate`);
  const switchKey = createPublicKey((await api.get('/secure/encryption-key')).json.publicKey as string);
  await api.post(`${base}/cards/${phys.json.id}/pin`, { payload: await encryptTo(switchKey, { pin: '2580' }) }, { headers: { 'Encrypted-Request': 'true' } });
  const full = await decrypt((await api.get(`${base}/cards/${phys.json.id}`, { headers: JWE })).json.payload);
  const exp = full.exp!.slice(2, 4) + full.exp!.slice(5, 7);
  t.equal(full.track2, cd.track2({ configId: DEMO, pan: full.cardNo!, expiry: exp }, { pin: '2580' }), 'PAN=YYMM, 201, PVKI, PVV, CVV');
  t.match(full.track2, new RegExp(`^${full.cardNo}=${exp}201\\d{8}$`));
  const iso = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => iso.close());
  const swipe = message(full.cardNo!, exp, '0100', '00', 1_000, { 18: '5411', 22: '901', 35: full.track2! });
  delete swipe['2'];
  delete swipe['14'];
  t.equal((await iso.request(swipe))['39'], '00', 'the image swiped (field 2 absent) approves');
});

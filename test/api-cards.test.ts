// Wallets, balances and cards through the management API on both HTTP servers: KYC, virtual and
// physical cards, full card data only as JWE (decrypted here with the test's own RSA key), locks
// with the irreversible codes, activation, customer transactional locks; no PAN in any log.
import t from 'tap';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { compactDecrypt, decodeProtectedHeader } from 'jose';
import { serverKinds, startApiSwitch, walletWithBalance, type ApiClient } from './helpers/api.js';
import { isLuhnValid } from '../stores/cards.js';

const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const PUBLIC = Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
const JWE = { 'Encrypt-Response': 'true', 'Public-Key': PUBLIC };

async function decrypt(payload: string, key: KeyObject = privateKey): Promise<Record<string, string>> {
  const { plaintext } = await compactDecrypt(payload, key);
  return JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, string>;
}

function expectedExp(months: number): string {
  const now = new Date();
  const m = now.getUTCMonth() + months;
  const y = now.getUTCFullYear() + Math.floor(m / 12);
  const mm = (m % 12) + 1;
  return `${y}-${String(mm).padStart(2, '0')}-${String(new Date(Date.UTC(y, mm, 0)).getUTCDate()).padStart(2, '0')}`;
}

async function cardsOf(api: ApiClient, customerId: string, balanceId: string): Promise<Array<Record<string, unknown>>> {
  return (await api.get(`/secure/customers/${customerId}/balances/${balanceId}`)).json.cards;
}

for (const { kind, skip } of serverKinds()) {
  t.test(`cards on ${kind}`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const api = s.api;
    const { customerId, balanceId } = await walletWithBalance(api);
    const base = `/secure/customers/${customerId}`;
    const pans: string[] = [];

    t.test('balances: KYC, program, currency', async (t) => {
      const pending = await walletWithBalance(api, 'PENDING');
      const r = await api.post(`/secure/customers/${pending.customerId}/balances`, { currency: 'EUR' });
      t.equal(r.status, 409);
      t.equal(r.json.title, 'KYC_REQUIRED');
      t.equal((await api.post('/secure/customers/999999/balances', { currency: 'EUR' })).json.title, 'CUSTOMER_NOT_FOUND');
      t.equal((await api.post(`${base}/balances`, { currency: 'EUR', configId: 'nope' })).json.title, 'PROGRAM_NOT_FOUND');
      const xyz = await api.post(`${base}/balances`, { currency: 'XYZ' });
      t.equal(xyz.status, 400);
      t.match(xyz.json.detail, 'currency XYZ');
      const pln = await api.post(`${base}/balances`, { currency: 'PLN' });
      t.equal(pln.status, 201, 'configId left out: the demo program');
      t.match(pln.json, { customerId, currency: 'PLN', configId: '0019167984', available: 0, blocked: 0, cards: [] });
      const b = await api.get(`${base}/balances/${balanceId}`);
      t.equal(b.status, 200);
      t.match(b.json, { id: balanceId, customerId, currency: 'EUR', available: 0, blocked: 0 });
      t.equal((await api.get(`/secure/customers/999999/balances/${balanceId}`)).json.title, 'BALANCE_NOT_FOUND', "another customer's balance is not found");
    });

    t.test('virtual card: plain answer, then JWE with PAN and CVV', async (t) => {
      const plain = await api.post(`${base}/cards/virtual`, { balanceId, configId: '0019167984' });
      t.equal(plain.status, 201);
      t.same(Object.keys(plain.json).sort(), ['exp', 'id', 'lastFourDigits', 'status'], 'no PAN, no CVV');
      t.equal(plain.json.status, 'ACTIVE');
      t.equal(plain.json.exp, expectedExp(36), 'expiry: last day of the month 36 months on');

      const enc = await api.post(`${base}/cards/virtual`, { balanceId }, { headers: JWE });
      t.equal(enc.status, 201);
      t.same(Object.keys(enc.json), ['payload']);
      t.match(decodeProtectedHeader(enc.json.payload), { alg: 'RSA-OAEP-256', enc: 'A256GCM' });
      const card = await decrypt(enc.json.payload);
      pans.push(card.cardNo as string);
      t.match(card.cardNo, /^555770\d{10}$/, 'a 16-digit PAN in the BIN');
      t.ok(isLuhnValid(card.cardNo as string), 'Luhn-valid');
      t.match(card.cvv, /^\d{3}$/);
      t.equal(card.lastFourDigits, (card.cardNo as string).slice(-4));
      t.not(card.cardNo, undefined);

      const get = await api.get(`${base}/cards/${card.id}`, { headers: JWE });
      t.equal(get.status, 200);
      const again = await decrypt(get.json.payload);
      t.same(again, card, 'the full-data GET answers the same card, CVV derived again');

      const none = await api.get(`${base}/cards/${card.id}`);
      t.equal(none.status, 400);
      t.equal(none.json.title, 'ENCRYPTION_REQUIRED');
      t.equal((await api.get(`${base}/cards/${card.id}`, { headers: { 'Public-Key': PUBLIC } })).json.title, 'ENCRYPTION_REQUIRED', 'a key alone asks for nothing');

      const before = (await cardsOf(api, customerId, balanceId)).length;
      const ec = Buffer.from(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
      const weak = Buffer.from(generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' })).toString('base64');
      for (const [what, key] of [['garbage', 'bm90IGEga2V5'], ['not base64', '%%%'], ['an EC key', ec], ['RSA 1024', weak], ['missing', '']] as const) {
        const r = await api.post(`${base}/cards/virtual`, { balanceId }, { headers: { 'Encrypt-Response': 'true', 'Public-Key': key } });
        t.equal(r.status, 400, what);
        t.equal(r.json.title, 'INVALID_PUBLIC_KEY', what);
      }
      t.equal((await cardsOf(api, customerId, balanceId)).length, before, 'a refused key issues no card');
      t.equal((await api.get(`${base}/cards/${card.id}`, { headers: { 'Encrypt-Response': 'true', 'Public-Key': weak } })).json.title, 'INVALID_PUBLIC_KEY');

      const other = await walletWithBalance(api);
      t.equal((await api.get(`/secure/customers/${other.customerId}/cards/${card.id}`, { headers: JWE })).json.title, 'CARD_NOT_FOUND', "another customer's card is not found");
      t.equal((await api.post(`/secure/customers/${other.customerId}/cards/virtual`, { balanceId })).json.title, 'BALANCE_NOT_FOUND');
      t.equal((await api.post(`${base}/cards/virtual`, { balanceId, configId: 'other' })).json.title, 'PROGRAM_MISMATCH');

      const listed = await cardsOf(api, customerId, balanceId);
      t.same(listed.map((c) => c.id).sort(), [plain.json.id, card.id].sort(), 'the balance lists its cards');
      t.match(listed.find((c) => c.id === card.id), { type: 'VIRTUAL', status: 'ACTIVE', lockReason: null, lastFourDigits: card.lastFourDigits });
    });

    t.test('physical card: INACTIVE until activated', async (t) => {
      const address = { line1: 'ul. Prosta 1', city: 'Warszawa', postalCode: '00-001', country: 'PL' };
      const missing = await api.post(`${base}/cards/physical`, { balanceId });
      t.equal(missing.status, 400);
      t.equal(missing.json.detail, 'deliveryAddress is required');
      t.equal((await api.post(`${base}/cards/physical`, { balanceId, deliveryAddress: { ...address, city: undefined } })).json.detail, 'deliveryAddress.city is required');
      const p = await api.post(`${base}/cards/physical`, { balanceId, deliveryAddress: address }, { headers: JWE });
      t.equal(p.status, 201);
      const card = await decrypt(p.json.payload);
      pans.push(card.cardNo as string);
      t.equal(card.status, 'INACTIVE');
      t.equal((await api.post(`${base}/cards/${card.id}/activate`)).status, 204);
      t.equal((await cardsOf(api, customerId, balanceId)).find((c) => c.id === card.id)?.status, 'ACTIVE');
      t.equal((await api.post(`${base}/cards/${card.id}/activate`)).json.title, 'CARD_ALREADY_ACTIVE');
      const v = await api.post(`${base}/cards/virtual`, { balanceId });
      t.equal((await api.post(`${base}/cards/${v.json.id}/activate`)).json.title, 'CARD_NOT_PHYSICAL');
      t.equal((await api.post(`${base}/cards/nosuchcard/activate`)).status, 404);
    });

    t.test('locks: reversible and irreversible codes', async (t) => {
      const issue = async () => (await api.post(`${base}/cards/virtual`, { balanceId })).json.id as string;
      const id = await issue();
      t.equal((await api.post(`${base}/cards/${id}/lock`, { reason: 7 })).status, 204);
      t.match((await cardsOf(api, customerId, balanceId)).find((c) => c.id === id), { status: 'LOCKED', lockReason: 7 });
      t.equal((await api.post(`${base}/cards/${id}/unlock`)).status, 204);
      t.match((await cardsOf(api, customerId, balanceId)).find((c) => c.id === id), { status: 'ACTIVE', lockReason: null });
      t.equal((await api.post(`${base}/cards/${id}/unlock`)).status, 204, 'unlocking an unlocked card changes nothing');
      for (const reason of [1, 2, 3, 4, 5, 6, 7, 8, 11]) {
        const c = await issue();
        t.equal((await api.post(`${base}/cards/${c}/lock`, { reason })).status, 204, `lock ${reason}`);
        const u = await api.post(`${base}/cards/${c}/unlock`);
        if ([1, 2, 5, 8].includes(reason)) {
          t.equal(u.status, 409, `unlock of ${reason} refused`);
          t.equal(u.json.title, 'CARD_LOCK_IRREVERSIBLE');
        } else {
          t.equal(u.status, 204, `unlock of ${reason}`);
        }
      }
      for (const reason of [0, 9, 10, 12, '7']) {
        const r = await api.post(`${base}/cards/${id}/lock`, { reason });
        t.equal(r.status, 400, `reason ${JSON.stringify(reason)}`);
        t.match(r.json.detail, /^reason must be/);
      }
      t.equal((await api.post(`${base}/cards/${id}/lock`, {})).json.detail, 'reason is required');
    });

    t.test('customer transactional locks', async (t) => {
      t.equal((await api.post(`${base}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204);
      t.equal((await api.post(`${base}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' })).status, 204, 'idempotent');
      t.match((await api.get(base)).json, { locks: ['FRAUD_SUSPECTED'], debitsBlocked: true });
      t.equal((await api.delete(`${base}/transactional-locks/FRAUD_SUSPECTED`)).status, 204);
      t.equal((await api.delete(`${base}/transactional-locks/FRAUD_SUSPECTED`)).status, 204, 'idempotent');
      t.match((await api.get(base)).json, { locks: [], debitsBlocked: false });
      t.equal((await api.post(`${base}/transactional-locks`, { reason: 'BORED' })).json.title, 'VALIDATION_ERROR');
      t.equal((await api.delete(`${base}/transactional-locks/BORED`)).json.title, 'VALIDATION_ERROR');
      t.equal((await api.post('/secure/customers/424242/transactional-locks', { reason: 'POLICE_LOCK' })).json.title, 'CUSTOMER_NOT_FOUND');
    });

    t.test('no PAN or CVV in any log line', async (t) => {
      t.ok(pans.length >= 2);
      for (const pan of pans) t.notOk(s.logs.some((l) => l.includes(pan)), 'PAN absent from logs');
    });
  });
}

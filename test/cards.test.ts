// The card store against a real Redis: issue and look-up, data at rest (no PAN in clear anywhere,
// no CVV stored), PAN generation, lock rules per seed code, activation, the switch's own lock after
// wrong PINs; and over the switch: a lock answers with its code on the very next 0100.
import { AppError } from '../errors/index.js';
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { startTestRedis } from './helpers/redis.js';
import { startTestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import {
  CardStore, IRREVERSIBLE_LOCK_CODES, LOCK_CODES, PIN_FAILURES_BEFORE_LOCK, PAN_ATTEMPTS_MAX,
  isLuhnValid, luhnCheckDigit, expiryYymm, newCardId, type IssueInput, type CardErrorCode,
} from '../stores/cards.js';
import { CustomerStore } from '../stores/customers.js';
import { derive } from '../stores/secrets.js';
import { Ledger } from '../ledger/index.js';
import { LOCK_REASONS, responseCode } from '../iso/reasons.js';

const DEMO = { configId: '0019167984', bin: '555770', panLength: 16, cardValidityMonths: 36 };

async function stores(redis: Redis): Promise<{ cards: CardStore; customers: CustomerStore; customerId: string }> {
  const cards = CardStore.fromSecrets(redis, derive(randomBytes(32), 'env'));
  const customers = new CustomerStore(redis, cards);
  const c = await customers.create({ kyc: 'SUCCESS' });
  return { cards, customers, customerId: c.id };
}

function input(customerId: string, over: Partial<IssueInput> = {}): IssueInput {
  return { customerId, balanceId: 'g00:bal', currency: 'EUR', kind: 'VIRTUAL', program: DEMO, ...over };
}

async function codeOf(p: Promise<unknown>): Promise<CardErrorCode | string> {
  try { await p; return 'resolved'; } catch (e) { return e instanceof AppError ? e.code : (e as { code?: string }).code ?? String(e); }
}

/** Every key name and every value in the Redis, as text. */
async function dumpAll(redis: Redis): Promise<string> {
  const parts: string[] = [];
  for (const key of await redis.keys('*')) {
    parts.push(key);
    const type = await redis.type(key);
    if (type === 'string') parts.push(await redis.get(key) ?? '');
    else if (type === 'hash') parts.push(...Object.entries(await redis.hgetall(key)).flat());
    else if (type === 'set') parts.push(...await redis.smembers(key));
    else if (type === 'list') parts.push(...await redis.lrange(key, 0, -1));
    else parts.push(`<${type}>`);
  }
  return parts.join('\n');
}

t.test('issue, then find by PAN and by id', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  const nowMs = Date.UTC(2026, 10, 25);
  const issued = await cards.issue(input(customerId, { nowMs }));
  t.match(issued.pan, /^555770\d{10}$/, '16 digits in the BIN');
  t.ok(isLuhnValid(issued.pan), 'Luhn-valid');
  const found = await cards.findByPan(issued.pan);
  t.same(found, issued.card, 'found by PAN');
  t.same(await cards.get(issued.card.id), issued.card, 'found by id');
  t.match(issued.card, {
    customerId, balanceId: 'g00:bal', configId: DEMO.configId, currency: 'EUR', expiry: '2911', status: 'ACTIVE',
    lock: 0, kind: 'VIRTUAL', panLast4: issued.pan.slice(-4), createdAtMs: nowMs, pinFailures: 0, debitsBlocked: false,
  });
  t.equal(await cards.revealPan(issued.card.id), issued.pan, 'the PAN decrypts for the full-data API');
  t.equal(await cards.findByPan('5557700000000018'), null, 'unknown PAN');
  t.equal(await cards.get('nope'), null, 'unknown id');
  t.equal(await cards.revealPan('nope'), null);
});

t.test('a card id can follow --card-id on any command line: it never begins with - or _', async (t) => {
  const ids = new Set<string>();
  for (let i = 0; i < 20_000; i++) ids.add(newCardId());
  t.equal(ids.size, 20_000, 'all different');
  const bad = [...ids].filter((id) => !/^[A-Za-z0-9][A-Za-z0-9_-]{15}$/.test(id));
  t.same(bad, [], 'sixteen base64url characters, the first a letter or a digit');
});

t.test('PAN generation: Luhn, BIN, length, uniqueness', async (t) => {
  t.equal(luhnCheckDigit('411111111111111'), '1', 'known check digit');
  t.equal(luhnCheckDigit('555770000000001'), '9');
  t.ok(isLuhnValid('4111111111111111'));
  t.notOk(isLuhnValid('4111111111111112'));
  t.equal(expiryYymm(Date.UTC(2026, 10, 25), 36), '2911');
  t.equal(expiryYymm(Date.UTC(2026, 0, 1), 11), '2612');
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  const p19 = await cards.issue(input(customerId, { program: { ...DEMO, bin: '55577013', panLength: 19 } }));
  t.match(p19.pan, /^55577013\d{11}$/, 'program PAN length and 8-digit BIN');
  t.ok(isLuhnValid(p19.pan));
  const many = await Promise.all(Array.from({ length: 300 }, () => cards.issue(input(customerId))));
  const pans = new Set(many.map((c) => c.pan));
  t.equal(pans.size, 300, '300 concurrent issues, 300 different PANs');
  t.equal(new Set(many.map((c) => c.card.id)).size, 300, 'and ids');
  t.ok(many.every((c) => isLuhnValid(c.pan) && c.pan.startsWith('555770')), 'all Luhn-valid in the BIN');
  t.equal(await codeOf(cards.issue(input(customerId, { program: { ...DEMO, panLength: 7 } }))), 'CARD_INVALID_ARGUMENT');
  t.equal(await codeOf(cards.issue(input(customerId, { program: { ...DEMO, bin: '5557' } }))), 'CARD_INVALID_ARGUMENT');
});

t.test('a full PAN space ends in CARD_PAN_SPACE_EXHAUSTED after a bounded number of draws', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  // BIN 8 + 3 random digits + check digit: 1,000 PANs exist.
  const tiny = input(customerId, { program: { ...DEMO, bin: '55577099', panLength: 12 } });
  const pans = new Set<string>();
  let exhausted = 0;
  const messages = new Set<string>();
  for (let i = 0; i < 1100; i++) {
    try { pans.add((await cards.issue(tiny)).pan); } catch (e) {
      if (!(e instanceof AppError) || e.code !== 'CARD_PAN_SPACE_EXHAUSTED') throw e;
      messages.add(e.message);
      exhausted++;
    }
  }
  t.notOk([...messages].some((m) => /55577099\d{4}/.test(m)), 'the error names no PAN');
  t.ok(pans.size <= 1000, `never more PANs than exist (${pans.size})`);
  t.equal(pans.size + exhausted, 1100, 'every other attempt was refused, none reused a PAN');
  t.ok(exhausted >= 100, `refused at least the 100 beyond the space (${exhausted}, ${PAN_ATTEMPTS_MAX} draws each)`);
});

t.test('at rest: no PAN in clear in any key or value, no CVV stored, the sealed PAN authenticates', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customers, customerId } = await stores(r.client);
  const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => cards.issue(input(customerId, { kind: i % 2 ? 'PHYSICAL' : 'VIRTUAL' }))));
  const seeded = await cards.put('5557701234561234', { id: 'seeded', customerId, balanceId: 'b', configId: DEMO.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  await cards.lock(issued[0]!.card.id, 7);
  await customers.addLock(customerId, 'FRAUD_SUSPECTED');
  await cards.recordPinFailure(issued[1]!.pan);
  const dump = await dumpAll(r.client);
  for (const pan of [...issued.map((c) => c.pan), '5557701234561234']) {
    t.notOk(dump.includes(pan), `PAN ${pan.slice(-4)} absent in clear`);
    t.notOk(dump.includes(pan.slice(6, 12)), `its middle digits too`);
  }
  t.equal(seeded.panLast4, '1234');
  const record = await r.client.hgetall((await r.client.keys('card:pan:*'))[0]!);
  t.notOk(Object.keys(record).some((k) => /cvv|cvc/i.test(k)), 'no CVV field');
  // The sealed PAN is bound to its card id: moved to another card it no longer decrypts.
  const [a, b] = [issued[2]!, issued[3]!];
  const sealedA = await r.client.hget('card:pan:' + cards.panIndex(a.pan), 'pe');
  t.equal(Buffer.from(sealedA!, 'base64')[0], 1, 'key version byte');
  await r.client.hset('card:pan:' + cards.panIndex(b.pan), 'pe', sealedA!);
  t.equal(await codeOf(cards.revealPan(b.card.id)), 'CARD_DATA_CORRUPT');
  const lookupOnly = new CardStore(r.client, derive(randomBytes(32), 'env').panIndexKey);
  t.equal(await codeOf(lookupOnly.revealPan(a.card.id)), 'CARD_KEYS_UNAVAILABLE', 'the lookup-only store cannot decrypt');
});

t.test('lock and unlock, per seed code', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  for (const code of LOCK_CODES) {
    const { card, pan } = await cards.issue(input(customerId));
    await cards.lock(card.id, code);
    t.equal((await cards.findByPan(pan))?.lock, code, `code ${code}: locked`);
    await cards.lock(card.id, code);
    t.equal((await cards.findByPan(pan))?.lock, code, `code ${code}: locking again is a no-op`);
    const irreversible = IRREVERSIBLE_LOCK_CODES.includes(code);
    const err = await cards.unlock(card.id).then(() => null, (e: unknown) => e as AppError);
    if (irreversible) {
      t.equal(err?.code, 'CARD_LOCK_IRREVERSIBLE', `code ${code}: unlock refused`);
      t.equal(err?.httpStatus, 409);
      t.equal((await cards.findByPan(pan))?.lock, code, `code ${code}: still locked`);
      t.equal(await codeOf(cards.lock(card.id, 3)), 'CARD_LOCK_IRREVERSIBLE', `code ${code}: not replaced by a reversible code`);
    } else {
      t.equal(err, null, `code ${code}: unlocked`);
      t.equal((await cards.findByPan(pan))?.lock, 0);
    }
  }
  const { card, pan } = await cards.issue(input(customerId));
  await cards.unlock(card.id);
  t.equal((await cards.findByPan(pan))?.lock, 0, 'unlocking an unlocked card is a no-op');
  await cards.lock(card.id, 3);
  await cards.lock(card.id, 2);
  t.equal((await cards.findByPan(pan))?.lock, 2, 'a reversible lock may become an irreversible one');
  t.equal(await codeOf(cards.lock(card.id, 9)), 'CARD_INVALID_LOCK_CODE');
  t.equal(await codeOf(cards.lock(card.id, 0)), 'CARD_INVALID_LOCK_CODE');
  t.equal(await codeOf(cards.lock('nope', 3)), 'CARD_NOT_FOUND');
  t.equal(await codeOf(cards.unlock('nope')), 'CARD_NOT_FOUND');
  const other = await cards.issue(input(customerId));
  await cards.lockOutside(other.pan, 7);
  t.equal((await cards.get(other.card.id))?.lock, 7, 'lock outside, by PAN');
  const unknownPan = '5557709999999999';
  const e = await cards.lockOutside(unknownPan, 7).then(() => null, (x: unknown) => x as Error);
  t.equal((e as AppError | null)?.code, 'CARD_NOT_FOUND');
  t.notOk(e?.message.includes(unknownPan), 'the error masks the PAN');
  t.match(e?.message, /555770\*+9999/);
});

t.test('activation: physical cards only, once', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  const phys = await cards.issue(input(customerId, { kind: 'PHYSICAL' }));
  t.equal(phys.card.status, 'INACTIVE', 'a physical card starts INACTIVE');
  await cards.activate(phys.card.id);
  t.equal((await cards.findByPan(phys.pan))?.status, 'ACTIVE');
  t.equal(await codeOf(cards.activate(phys.card.id)), 'CARD_ALREADY_ACTIVE');
  const virt = await cards.issue(input(customerId));
  t.equal(virt.card.status, 'ACTIVE', 'a virtual card is active at once');
  t.equal(await codeOf(cards.activate(virt.card.id)), 'CARD_NOT_PHYSICAL');
  t.equal(await codeOf(cards.activate('nope')), 'CARD_NOT_FOUND');
});

t.test('wrong PINs: the switch locks the card itself (lock outside)', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customerId } = await stores(r.client);
  const { card, pan } = await cards.issue(input(customerId));
  t.equal(PIN_FAILURES_BEFORE_LOCK, 3);
  t.same(await cards.recordPinFailure(pan), { failures: 1, lock: 0 });
  t.same(await cards.recordPinFailure(pan), { failures: 2, lock: 0 });
  await cards.recordPinSuccess(pan);
  t.equal((await cards.findByPan(pan))?.pinFailures, 0, 'a correct PIN resets the count');
  for (let i = 1; i < PIN_FAILURES_BEFORE_LOCK; i++) await cards.recordPinFailure(pan);
  t.same(await cards.recordPinFailure(pan), { failures: 3, lock: 6 }, 'third consecutive failure: lock 6');
  t.same(await cards.recordPinFailure(pan), { failures: 4, lock: 6 });
  await cards.unlock(card.id);
  t.match(await cards.findByPan(pan), { lock: 0, pinFailures: 0 }, 'lock 6 is reversible; unlocking gives fresh tries');

  const offline = await cards.issue(input(customerId));
  for (let i = 0; i < 3; i++) await cards.recordPinFailure(offline.pan, 'OFFLINE');
  t.equal((await cards.findByPan(offline.pan))?.lock, 11, 'offline PIN: lock 11');
  const fraud = await cards.issue(input(customerId));
  await cards.lock(fraud.card.id, 7);
  for (let i = 0; i < 3; i++) await cards.recordPinFailure(fraud.pan);
  t.equal((await cards.findByPan(fraud.pan))?.lock, 7, 'an existing lock is kept');
  t.equal(await cards.recordPinFailure('5557709999999999'), null, 'unknown PAN');
  await cards.recordPinSuccess('5557709999999999');
  t.equal(await cards.findByPan('5557709999999999'), null, 'a success on an unknown PAN creates nothing');
});

t.test('over the switch: a lock answers on the very next 0100, an unlock approves again', async (t) => {
  const s = await startTestSwitch(t);
  const ledger = await Ledger.open(s.redis.client);
  const cards = CardStore.fromSecrets(s.redis.client, s.app.secrets);
  const customers = new CustomerStore(s.redis.client, cards);
  const cust = await customers.create({ kyc: 'SUCCESS' });
  const bal = await ledger.createUserBalance({ customerId: cust.id, currency: 'EUR', configId: DEMO.configId });
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: bal.id, amountMinor: 100_000, partnerId: null });
  const program = s.app.programs.byId(DEMO.configId)!;
  const { card, pan } = await cards.issue({ customerId: cust.id, balanceId: bal.id, currency: 'EUR', kind: 'VIRTUAL', program });
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  let stan = 0;
  const auth = (): Promise<IsoJson> => {
    stan++;
    return c.request({
      0: '0100', 2: pan, 3: '000000', 4: '000000000100', 7: '1125101500', 11: String(stan).padStart(6, '0'),
      14: card.expiry, 32: '123456', 37: 'RRN' + String(stan).padStart(9, '0'), 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
    } as IsoJson);
  };
  t.equal((await auth())['39'], '00', 'approved');
  for (const code of [3, 4, 6, 7, 11]) {
    await cards.lock(card.id, code);
    t.equal((await auth())['39'], responseCode(LOCK_REASONS[code]!, '1987'), `lock ${code}: its response code`);
    await cards.unlock(card.id);
    t.equal((await auth())['39'], '00', `unlocked after ${code}: approved again`);
  }
  for (let i = 0; i < PIN_FAILURES_BEFORE_LOCK; i++) await cards.recordPinFailure(pan);
  t.equal((await auth())['39'], '75', 'PIN tries exceeded: 75');
  await cards.unlock(card.id);
  await customers.addLock(cust.id, 'FRAUD_SUSPECTED');
  t.equal((await auth())['39'], '62', 'customer transactional lock: 62 (AML_EXCEPTION)');
  await customers.removeLock(cust.id, 'FRAUD_SUSPECTED');
  t.equal((await auth())['39'], '00', 'lock removed: approved');
  const phys = await cards.issue({ customerId: cust.id, balanceId: bal.id, currency: 'EUR', kind: 'PHYSICAL', program });
  const r = await c.request({
    0: '0100', 2: phys.pan, 3: '000000', 4: '000000000100', 7: '1125101500', 11: '900001', 14: phys.card.expiry,
    32: '123456', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  } as IsoJson);
  t.equal(r['39'], '56', 'a physical card not yet activated: 56');
  await cards.lock(card.id, 2);
  t.equal((await auth())['39'], '43', 'stolen: 43');
  t.equal(await codeOf(cards.unlock(card.id)), 'CARD_LOCK_IRREVERSIBLE');
  t.equal((await auth())['39'], '43', 'and stays so');
  const logs = s.logs.join('\n');
  t.notOk(logs.includes(pan) || logs.includes(phys.pan), 'no PAN in the switch log');
});

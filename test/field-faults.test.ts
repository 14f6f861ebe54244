// Field faults found by replaying real-world situations (records, account verification, frames
// that cannot be answered, card data at rest). Each test asserts what a user would notice: the
// record an API client reads, the log line an operator reads, what a Redis dump or its files hold.
import t from 'tap';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import type { Redis } from 'ioredis';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { compactDecrypt } from 'jose';
import {
  ACQ, assertLedgerSound, balance, f90, f95, msg, newCard, send, startWorld, UNKNOWN_CARD, type Card, type IsoJson, type World,
} from './helpers/e2e.js';
import { TRANSACTION } from '../api/routes/balances.js';
import { FEED_EVENT } from '../api/routes/system.js';
import { TransactionRecords, type TransactionObject } from '../switch/records.js';
import type { FeedEvent } from '../api/feed.js';
import { ApiClient } from './helpers/api.js';

const ajv = new Ajv2020({ strict: false, allErrors: true });
(addFormats as unknown as (a: Ajv2020) => void)(ajv);
const validRecord = ajv.compile(TRANSACTION);
const validEvent = ajv.compile(FEED_EVENT);

async function recordsOf(w: World, card: Card): Promise<TransactionObject[]> {
  const records = new TransactionRecords(w.s.redis.client, w.ledger);
  return (await records.list({ cardId: card.cardId, limit: 200 })).items;
}

/** Records are written after the answer, in the next pipeline: wait until `n` are there. */
async function waitRecords(w: World, card: Card, n: number): Promise<TransactionObject[]> {
  for (let i = 0; i < 100; i++) {
    const items = await recordsOf(w, card);
    if (items.length >= n) return items;
    await new Promise((r) => setTimeout(r, 20));
  }
  return recordsOf(w, card);
}

t.test('every record and feed event validates against the OpenAPI document, for every decline reason', async (t) => {
  const w = await startWorld(t, '1987');
  const events: FeedEvent[] = [];
  const unsubscribe = w.s.app.feed.subscribe((evs) => { events.push(...evs); });
  t.teardown(unsubscribe);

  // One card per situation, so each card's records say exactly what happened to it.
  let n = 0;
  const situations: Array<{ name: string; card: () => Promise<Card>; messages: (c: Card) => IsoJson[]; reasons: string[] }> = [
    { name: 'approved, then short of funds', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '00', 2_500), msg('0100', c, '000002', '00', 50_000)], reasons: ['APPROVED', 'INSUFFICIENT_FUNDS'] },
    ...[1, 2, 3, 4, 5, 6, 7, 8, 11].map((lock) => ({
      name: `lock ${lock}`, card: () => newCard(w, ++n, { lock }), messages: (c: Card) => [msg('0100', c, '000001', '00', 100)], reasons: ['CARD_LOCK_'],
    })),
    { name: 'inactive physical card', card: () => newCard(w, ++n, { status: 'INACTIVE' }), messages: (c) => [msg('0100', c, '000001', '00', 100)], reasons: ['CARD_LOCK_5_CARD_INACTIVE'] },
    { name: 'expired card', card: () => newCard(w, ++n, { expiry: '2001' }), messages: (c) => [msg('0100', c, '000001', '00', 100)], reasons: ['EXPIRED_CARD'] },
    { name: 'zero ATM amount', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '01', 0)], reasons: ['INVALID_AMOUNT'] },
    { name: 'account verification', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '00', 0)], reasons: ['ACCOUNT_VERIFIED'] },
    { name: 'unknown processing code', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '99', 100)], reasons: ['UNKNOWN_TRANSACTION_TYPE'] },
    { name: 'no field 3', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '00', 100, { 3: undefined })], reasons: ['FORMAT_ERROR'] },
    { name: 'currency without a rate', card: () => newCard(w, ++n), messages: (c) => [msg('0100', c, '000001', '00', 100, { 49: '985' })], reasons: ['CURRENCY_MISMATCH'] },
    { name: 'per-transaction limit', card: () => newCard(w, ++n, { program: 'LIM_TX' }), messages: (c) => [msg('0100', c, '000001', '00', 5_001)], reasons: ['EXCEEDS_AMOUNT_LIMIT'] },
    { name: 'daily count', card: () => newCard(w, ++n, { program: 'LIM_CNT' }), messages: (c) => [1, 2, 3].map((k) => msg('0100', c, `00000${k}`, '00', 10)), reasons: ['APPROVED', 'LIMIT_EXCEED'] },
    { name: 'deposit required', card: () => newCard(w, ++n, { program: 'DEP_REQ' }), messages: (c) => [msg('0100', c, '000001', '00', 100)], reasons: ['DEPOSIT_BALANCE_NOT_FOUND'] },
    { name: 'deposit short', card: () => newCard(w, ++n, { program: 'DEP_LOW' }), messages: (c) => [msg('0100', c, '000001', '00', 2_000)], reasons: ['INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE'] },
    { name: 'customer transactional lock', card: () => newCard(w, ++n, { customerLock: 'FRAUD_SUSPECTED' }), messages: (c) => [msg('0200', c, '000001', '00', 100)], reasons: ['AML_EXCEPTION'] },
    {
      name: 'ambiguous reversal', card: () => newCard(w, ++n),
      messages: (c) => [msg('0100', c, '000001', '00', 100, { 37: 'SAMERRN00001' }), msg('0100', c, '000002', '00', 100, { 37: 'SAMERRN00001' }),
        msg('0400', c, '000003', '00', 100, { 37: 'SAMERRN00001', 7: '1126101500' })],
      reasons: ['AMBIGUOUS_REFERENCED_TRANSACTION'],
    },
    {
      name: 'reversal, partial reversal, clearing, advices', card: () => newCard(w, ++n),
      messages: (c) => {
        const a = msg('0100', c, '000001', '00', 1_000);
        const b = msg('0100', c, '000002', '00', 1_000);
        return [a, b, msg('0400', c, '000003', '00', 1_000, { 7: '1126101500', 90: f90(a), 95: f95(400) }),
          msg('0220', c, '000004', '00', 800, { 7: '1126101500', 90: f90(b) }), msg('0120', c, '000005', '00', 300),
          msg('0420', c, '000006', '00', 300, { 7: '1126101500', 90: f90(msg('0120', c, '000005', '00', 300)) }),
          msg('0100', c, '000007', '30', 0), msg('0200', c, '000008', '20', 500), msg('0200', c, '000009', '28', 500)];
      },
      reasons: ['APPROVED'],
    },
  ];
  const cards: Card[] = [];
  for (const s of situations) {
    const card = await s.card();
    cards.push(card);
    for (const m of s.messages(card)) await send(w, m);
    const recs = await waitRecords(w, card, s.messages(card).length);
    t.equal(recs.length, s.messages(card).length, `${s.name}: one record per message`);
    for (const reason of s.reasons) t.ok(recs.some((r) => r.reason.startsWith(reason)), `${s.name}: a record with ${reason}`);
    for (const r of recs) {
      t.ok(validRecord(r), `${s.name}: ${r.mti} ${r.reason} record validates`, { errors: validRecord.errors });
      t.equal(typeof r.amount, 'number', 'amount is a number');
      t.type(r.externalTransactionId, 'string', 'the transaction id is known: the card is');
    }
  }
  // An advice for a card the switch does not know: recorded INVALID, without a balance.
  await send(w, msg('0120', UNKNOWN_CARD, '000001', '00', 100));
  const records = new TransactionRecords(w.s.redis.client, w.ledger);
  let unattributed: TransactionObject[] = [];
  for (let i = 0; i < 100 && unattributed.length === 0; i++) {
    unattributed = (await records.list({ limit: 10 })).items;
    if (unattributed.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
  t.equal(unattributed.length, 1);
  t.ok(validRecord(unattributed[0]), 'a record of an unknown card validates', { errors: validRecord.errors });
  t.match(unattributed[0], { processingStatus: 'INVALID', reason: 'CARD_NOT_FOUND', balanceId: null, amount: 100 });

  t.ok(events.length >= cards.length, 'feed events seen');
  for (const e of events) t.ok(validEvent(e), `feed event ${e.mti} ${e.reason} validates`, { errors: validEvent.errors });
  await assertLedgerSound(t, w);
});

t.test('account verification: 85, recorded as ACCOUNT_VERIFICATION with amount 0, nothing held; card checks still apply', async (t) => {
  const w = await startWorld(t, '1987');
  const card = await newCard(w, 1);
  const a = await send(w, msg('0100', card, '000001', '00', 0));
  t.equal(a.res['39'], '85');
  t.match(a.res['38'], /^[0-9A-Z]{6}$/, 'an authorization id, as for an approval');
  t.same(await balance(w, card), [10_000, 0], 'nothing held');
  const [rec] = await waitRecords(w, card, 1);
  t.match(rec, { type: 'ACCOUNT_VERIFICATION', amount: 0, processingStatus: 'SUCCESS', reason: 'ACCOUNT_VERIFIED', responseCode: '85' });
  const w03 = await startWorld(t, '2003');
  const card03 = await newCard(w03, 1);
  t.equal((await send(w03, msg('0100', card03, '000001', '00', 0))).res['39'], '0000', '2003: 0000');
  const locked = await newCard(w, 2, { customerLock: 'FRAUD_SUSPECTED' });
  t.equal((await send(w, msg('0100', locked, '000001', '00', 0))).res['39'], '62', 'a customer lock declines it');
  const expired = await newCard(w, 3);
  t.equal((await send(w, msg('0100', expired, '000001', '00', 0, { 14: '2001' }))).res['39'], '54', 'a wrong expiry declines it');
  t.equal((await send(w, msg('0100', UNKNOWN_CARD, '000001', '00', 0))).res['39'], '14', 'an unknown card declines it');
});

t.test('field 43 is read with one layout: name 1-22, city 24-36, country 38-40', async (t) => {
  const w = await startWorld(t, '1987');
  const card = await newCard(w, 1);
  await send(w, msg('0100', card, '000001', '00', 100, { 43: 'Corner Shop'.padEnd(23) + 'Warszawa'.padEnd(14) + 'POL' }));
  await send(w, msg('0100', card, '000002', '00', 100, { 43: 'A'.repeat(22) + ' ' + 'B'.repeat(13) + ' ' + 'DEU' }));
  const [full, corner] = await waitRecords(w, card, 2);
  t.match(corner, { description: 'Corner Shop', transactionData: { merchantName: 'Corner Shop', merchantCity: 'Warszawa', acquirerCountry: 'POL' } });
  t.match(full, { transactionData: { merchantName: 'A'.repeat(22), merchantCity: 'B'.repeat(13), acquirerCountry: 'DEU' } });
});

t.test('a frame that cannot be answered is logged once a second with its connection and reason, never its content', async (t) => {
  const w = await startWorld(t, '1987');
  const pan = '5557700000000001';
  // An 0100 whose bitmap names field 2 but whose body ends inside it: no STAN can be read.
  const body = Buffer.concat([Buffer.from('0100', 'latin1'), Buffer.from([0xc0, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(8), Buffer.from('16' + pan.slice(0, 10), 'latin1')]);
  const framed = Buffer.alloc(body.length + 2);
  framed.writeUInt16BE(body.length, 0);
  body.copy(framed, 2);
  for (let i = 0; i < 5; i++) w.c.writeRaw(framed);
  // The connection stays up: an echo afterwards is answered.
  const echo = await send(w, { 0: '0800', 7: '1125101500', 11: '000099', 70: '301' });
  t.equal(echo.res['39'], '00', 'the connection still answers');
  const lines = w.s.logs.filter((l) => l.includes('frame dropped'));
  t.equal(lines.length, 1, 'one line for five drops within a second');
  t.match(lines[0], /"conn":"#\d+ 127\.0\.0\.1:\d+"/, 'names the connection');
  t.match(lines[0], /ISO_ERR_TRUNCATED: field 2/, 'names the reason');
  t.notOk(lines.some((l) => l.includes(pan.slice(0, 10))), 'no card digits in the log');
});

/** Every key and value of a Redis as bytes (strings, hashes, sets, lists, sorted sets, streams). */
async function dumpAll(redis: Redis): Promise<Buffer> {
  const parts: Buffer[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scanBuffer(cursor, 'COUNT', 1000);
    cursor = next.toString();
    for (const key of keys) {
      parts.push(key);
      const type = await redis.type(key);
      if (type === 'string') parts.push((await redis.getBuffer(key)) ?? Buffer.alloc(0));
      else if (type === 'hash') parts.push(...Object.entries(await redis.hgetallBuffer(key)).flat().map((x) => Buffer.from(x)));
      else if (type === 'set') parts.push(...await redis.smembersBuffer(key));
      else if (type === 'list') parts.push(...await redis.lrangeBuffer(key, 0, -1));
      else if (type === 'zset') parts.push(...await redis.zrangeBuffer(key, 0, -1));
      else if (type === 'stream') parts.push(Buffer.from(JSON.stringify(await redis.xrange(key, '-', '+'))));
      else parts.push(Buffer.from(`<${type}>`));
    }
  } while (cursor !== '0');
  return Buffer.concat(parts);
}

function filesUnder(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...filesUnder(p));
    else out.push(p);
  }
  return out;
}

t.test('no PAN at rest: every message type and API call, then the AOF rewritten, Redis and its files scanned', async (t) => {
  const w = await startWorld(t, '1987');
  const api = new ApiClient(w.s.app.httpPort);
  const pans: string[] = [];
  // API flow: customer, balances, cards (one returned as JWE), top-up, locks, full card data.
  const cust = await api.post('/lifecycle/v1/wallet', { firstName: 'Ann', lastName: 'Nowak', phone: '+48600700800', email: 'ann@example.pl', birthDate: '1990-01-01', state: 'Mazowieckie', kyc: 'SUCCESS' });
  const customer = `/secure/customers/${cust.json.id}`;
  const bal = await api.post(`${customer}/balances`, { currency: 'EUR' });
  await api.post(`${customer}/balances/${bal.json.id}/transactions`, { type: 'TOPUP', amount: 50_000, currency: 'EUR' }, { headers: { 'X-Idempotency-Key': 'scan-topup' } });
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwe = { 'Encrypt-Response': 'true', 'Public-Key': Buffer.from(publicKey.export({ type: 'spki', format: 'pem' })).toString('base64') };
  const virtual = await api.post(`${customer}/cards/virtual`, { balanceId: bal.json.id }, { headers: { ...jwe, 'X-Idempotency-Key': 'scan-card' } });
  const full = JSON.parse(new TextDecoder().decode((await compactDecrypt(virtual.json.payload, privateKey)).plaintext)) as Record<string, string>;
  const physical = await api.post(`${customer}/cards/physical`, { balanceId: bal.json.id, deliveryAddress: { line1: 'Street 1', city: 'Warszawa', postalCode: '00-001', country: 'POL' } });
  const fullGet = await api.get(`${customer}/cards/${full.id}`, { headers: jwe });
  t.equal(fullGet.status, 200);
  await api.post(`${customer}/cards/${physical.json.id}/activate`);
  await api.post(`${customer}/cards/${full.id}/lock`, { reason: 3 });
  await api.post(`${customer}/cards/${full.id}/unlock`);
  await api.post(`${customer}/transactional-locks`, { reason: 'FRAUD_SUSPECTED' });
  await api.delete(`${customer}/transactional-locks/FRAUD_SUSPECTED`);
  const pan = full.cardNo!;
  pans.push(pan);
  const apiCard: Card = { pan, cardId: full.id!, balanceId: bal.json.id, expiry: full.exp!.slice(2, 4) + full.exp!.slice(5, 7), customerId: String(cust.json.id) };

  // Every message type on the API-made card and on a seeded one, with repeats (duplicate cache).
  const seeded = await newCard(w, 7);
  pans.push(seeded.pan);
  for (const c of [apiCard, seeded]) {
    const a = msg('0100', c, '000001', '00', 1_000);
    const sent = [a, a, msg('0101', c, '000001', '00', 1_000), msg('0400', c, '000002', '00', 1_000, { 7: '1126101500', 90: f90(a), 95: f95(500) }),
      msg('0220', c, '000003', '00', 500, { 7: '1126101500', 90: f90(a) }), msg('0200', c, '000004', '00', 700), msg('0200', c, '000005', '20', 300),
      msg('0200', c, '000006', '28', 300), msg('0120', c, '000007', '00', 200), msg('0420', c, '000008', '00', 200, { 7: '1126101500', 90: f90(msg('0120', c, '000007', '00', 200)) }),
      msg('0100', c, '000009', '30', 0), msg('0100', c, '000010', '00', 0), msg('0100', c, '000011', '00', 99_999_999), msg('0400', c, '000012', '00', 10, { 7: '1126101500', 90: f90(msg('0100', c, '000099', '00', 10)) })];
    for (const m of sent) await send(w, m);
    t.equal((await send(w, a)).res['39'], '00', 'a repeat answered from the cache');
  }
  await send(w, msg('0100', UNKNOWN_CARD, '000001', '00', 100));
  pans.push(UNKNOWN_CARD.pan);
  await new Promise((r) => setTimeout(r, 300)); // records are written after the answers

  const redis = w.s.redis.client;
  await redis.bgrewriteaof();
  for (let i = 0; i < 200 && (await redis.info('persistence')).includes('aof_rewrite_in_progress:1'); i++) await new Promise((r) => setTimeout(r, 25));
  await redis.save();
  const dump = await dumpAll(redis);
  const files = filesUnder(w.s.redis.dir).map((p) => ({ p, bytes: readFileSync(p) }));
  t.ok(files.some((f) => f.p.includes('appendonly')), 'the AOF is among the files scanned');
  t.ok(files.some((f) => f.p.endsWith('.rdb')), 'the RDB is among the files scanned');
  for (const p of pans) {
    t.notOk(dump.includes(Buffer.from(p, 'latin1')), `PAN ${p.slice(-4)} absent from every key and value`);
    for (const f of files) t.notOk(f.bytes.includes(Buffer.from(p, 'latin1')), `PAN ${p.slice(-4)} absent from ${f.p.slice(w.s.redis.dir.length)}`);
  }
  t.notOk(w.s.logs.some((l) => pans.some((p) => l.includes(p))), 'and from every log line');
  void ACQ;
  await assertLedgerSound(t, w);
});

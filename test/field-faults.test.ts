// Field faults found by replaying real-world situations (records, account verification, frames
// that cannot be answered, card data at rest). Each test asserts what a user would notice: the
// record an API client reads, the log line an operator reads, what a Redis dump or its files hold.
import t from 'tap';
import { generateKeyPairSync } from 'node:crypto';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormats from 'ajv-formats';
import { compactDecrypt } from 'jose';
import {
  assertLedgerSound, balance, f90, f95, msg, newCard, send, startWorld, UNKNOWN_CARD, type Card, type IsoJson, type World,
} from './helpers/e2e.js';
import { TRANSACTION } from '../api/routes/balances.js';
import { FEED_EVENT } from '../api/routes/system.js';
import { TransactionRecords, type TransactionObject } from '../stores/records.js';
import type { FeedEvent } from '../api/feed.js';
import { ApiClient } from './helpers/api.js';
import { sharedTestPostgres } from './helpers/pg.js';
import { dumpAll, filesUnder } from './helpers/at-rest.js';

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

t.test('a frame that cannot be answered is logged once a minute per connection with its reason, never its content', async (t) => {
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
  t.equal(lines.length, 1, 'one line for five drops on one connection');
  t.match(lines[0], /"conn":"#\d+ 127\.0\.0\.1:\d+"/, 'names the connection');
  t.match(lines[0], /ISO_ERR_TRUNCATED: field 2/, 'names the reason');
  t.notOk(lines.some((l) => l.includes(pan.slice(0, 10))), 'no card digits in the log');
});

t.test('a 30 answer is logged with the field at fault and counted by field, never with card data', async (t) => {
  const w = await startWorld(t, '1987');
  const card = await newCard(w, 1);
  const noProcessingCode = msg('0100', card, '000001', '00', 100);
  delete (noProcessingCode as Record<string, unknown>)['3'];
  for (let i = 0; i < 3; i++) t.equal((await send(w, { ...noProcessingCode, 11: `00000${i + 1}` })).res['39'], '30', 'field 3 absent: format error');
  const lines = w.s.logs.filter((l) => l.includes('answered 30'));
  t.equal(lines.length, 1, 'one line for three on one connection within a minute');
  t.match(lines[0], /"field":3/, 'names the field');
  t.match(lines[0], /required and absent/, 'and the problem');
  t.notOk(lines[0]!.includes(card.pan), 'no PAN in the line');
  const metrics = await (await fetch(`http://127.0.0.1:${w.s.app.httpPort}/metrics`)).text();
  t.match(metrics, /switch_format_errors_total\{field="3"\} 3/, 'every one counted under its field');
});



t.test('no PAN at rest: every message type and API call, then the AOF rewritten, Redis and its files scanned, and the history database\'s', async (t) => {
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
  const files = filesUnder(w.s.redis.dir).map(({ path, bytes }) => ({ p: path, bytes }));
  t.ok(files.some((f) => f.p.includes('appendonly')), 'the AOF is among the files scanned');
  t.ok(files.some((f) => f.p.endsWith('.rdb')), 'the RDB is among the files scanned');
  for (const p of pans) {
    t.notOk(dump.includes(Buffer.from(p, 'latin1')), `PAN ${p.slice(-4)} absent from every key and value`);
    for (const f of files) t.notOk(f.bytes.includes(Buffer.from(p, 'latin1')), `PAN ${p.slice(-4)} absent from ${f.p.slice(w.s.redis.dir.length)}`);
  }
  // The history database: everything copied, written out to its files (CHECKPOINT), every file of
  // the cluster (tables, indexes, WAL, logs) scanned.
  for (let i = 0; i < 200 && (await w.s.app.history.copier.backlog()).entries > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal((await w.s.app.history.copier.backlog()).entries, 0, 'everything copied to the history database');
  t.ok((await w.s.app.history.pool.query('SELECT count(*)::int AS n FROM history.records')).rows[0].n > 20, 'its records are there');
  await w.s.app.history.pool.query('CHECKPOINT');
  const pgDir = (await sharedTestPostgres()).dir;
  const pgFiles = filesUnder(pgDir).map(({ path, bytes }) => ({ p: path, bytes }));
  t.ok(pgFiles.some((f) => f.p.includes('pg_wal')) && pgFiles.some((f) => f.p.includes('/base/')), 'the WAL and the tables are among the files scanned');
  let found = 0;
  for (const p of pans) for (const f of pgFiles) if (f.bytes.includes(Buffer.from(p, 'latin1'))) { found++; t.fail(`PAN ${p.slice(-4)} in ${f.p.slice(pgDir.length)}`); }
  t.equal(found, 0, `no PAN in any of the history database's ${pgFiles.length} files`);
  t.notOk(w.s.logs.some((l) => pans.some((p) => l.includes(p))), 'and from every log line');
  await assertLedgerSound(t, w);
});

/** The record of a request (by its STAN) among a card's records. */
async function recordOf(w: World, card: Card, mti: string, stan: string): Promise<TransactionObject | undefined> {
  for (let i = 0; i < 100; i++) {
    const r = (await recordsOf(w, card)).find((x) => x.mti === mti && (x.externalTransactionId ?? '').includes(`.${stan}.`));
    if (r !== undefined) return r;
    await new Promise((res) => setTimeout(res, 20));
  }
  return undefined;
}

const LATER = { 7: '1126101500' };

t.test('a reversal of posted money moves it back, in full or in part, for every posted kind', async (t) => {
  const w = await startWorld(t, '1987');
  let n = 100;
  const cases: Array<{ name: string; topUp: number; original: (c: Card) => IsoJson[]; reversal: (c: Card, o: IsoJson) => IsoJson; after: [number, number]; status?: string; reversed?: number }> = [
    {
      name: 'ATM 0200 (01, MCC 6011, 80.00) and its 0420', topUp: 10_000,
      original: (c) => [msg('0200', c, '000001', '01', 8_000, { 18: '6011' })],
      reversal: (c, o) => msg('0420', c, '000002', '01', 8_000, { ...LATER, 90: f90(o) }), after: [10_000, 0], status: 'REVERSED',
    },
    {
      name: '0200 of 100.00 and an 0400 with field 95 = 40.00 (partial dispense): 60.00 back', topUp: 20_000,
      original: (c) => [msg('0200', c, '000001', '01', 10_000, { 18: '6011' })],
      reversal: (c, o) => msg('0400', c, '000002', '01', 10_000, { ...LATER, 90: f90(o), 95: f95(4_000) }), after: [16_000, 0], status: 'CLEARED', reversed: 6_000,
    },
    {
      name: 'forced post (0220 without an original) and its 0420', topUp: 10_000,
      original: (c) => [msg('0220', c, '000001', '00', 3_000, { 37: undefined })],
      reversal: (c, o) => msg('0420', c, '000002', '00', 3_000, { ...LATER, 90: f90(o) }), after: [10_000, 0], status: 'REVERSED',
    },
    {
      name: 'authorization cleared by its 0220, then reversed', topUp: 10_000,
      original: (c) => { const a = msg('0100', c, '000001', '00', 2_000); return [a, msg('0220', c, '000003', '00', 2_000, { ...LATER, 90: f90(a) })]; },
      reversal: (c, o) => msg('0420', c, '000002', '00', 2_000, { 7: '1127101500', 90: f90(o) }), after: [10_000, 0], status: 'REVERSED',
    },
    {
      name: 'forced hold (0120) reversed in part', topUp: 10_000,
      original: (c) => [msg('0120', c, '000001', '00', 5_000)],
      reversal: (c, o) => msg('0420', c, '000002', '00', 5_000, { ...LATER, 90: f90(o), 95: f95(1_000) }), after: [9_000, 1_000], status: 'AUTHORIZED',
    },
    {
      name: 'refund posted by an 0200 (20): debited back', topUp: 1_000,
      original: (c) => [msg('0200', c, '000001', '20', 2_500)],
      reversal: (c, o) => msg('0400', c, '000002', '20', 2_500, { ...LATER, 90: f90(o) }), after: [1_000, 0], status: 'REVERSED',
    },
    {
      name: 'payment credit (28) in an 0100 reversed in part', topUp: 1_000,
      original: (c) => [msg('0100', c, '000001', '28', 3_000)],
      reversal: (c, o) => msg('0400', c, '000002', '28', 3_000, { ...LATER, 90: f90(o), 95: f95(1_000) }), after: [2_000, 0], status: 'CLEARED', reversed: 2_000,
    },
    {
      name: 'payment credit advice (0220, 28) reversed: debited back below zero if need be (forced)', topUp: 0,
      original: (c) => [msg('0220', c, '000001', '28', 3_000, { 37: undefined })],
      reversal: (c, o) => msg('0420', c, '000002', '28', 3_000, { ...LATER, 90: f90(o) }), after: [0, 0], status: 'REVERSED',
    },
  ];
  for (const k of cases) {
    await t.test(k.name, async (t) => {
      const card = await newCard(w, ++n, { topUpMinor: k.topUp });
      const originals = k.original(card);
      for (const m of originals) t.equal((await send(w, m)).res['39'], '00', `original ${m['0']} answered 00`);
      const first = originals[0]!;
      const rev = k.reversal(card, first);
      t.equal((await send(w, rev)).res['39'], '00', 'reversal answered 00');
      t.same(await balance(w, card), k.after, 'the money came back');
      const again = { ...rev, 11: '000009' };
      t.equal((await send(w, again)).res['39'], '00', 'a second reversal is acknowledged');
      t.same(await balance(w, card), k.after, 'and moves nothing');
      const orig = await recordOf(w, card, String(first['0']), String(first['11']));
      t.equal(orig?.status, k.status, `the original's record shows ${k.status}`);
      if (k.reversed !== undefined) t.equal(orig?.reversedAmount, k.reversed, 'and the amount reversed');
      const revRec = await recordOf(w, card, String(rev['0']), String(rev['11']));
      t.equal(revRec?.referenceExternalTransactionId, orig?.externalTransactionId, "the reversal's record names the original");
      await assertLedgerSound(t, w);
    });
  }
});

t.test('an orphan reversal is keyed by what field 90 names: without field 41 it stops the original from any terminal', async (t) => {
  const w = await startWorld(t, '1987');
  const card = await newCard(w, 200);
  for (const [mti, proc] of [['0100', '00'], ['0200', '01']] as const) {
    const stan = mti === '0100' ? '000001' : '000011';
    const original = msg(mti, card, stan, proc, 4_000, { 41: 'TERM0042' });
    const orphan = msg('0400', card, String(Number(stan) + 1).padStart(6, '0'), proc, 4_000, { ...LATER, 90: f90(original), 41: undefined, 37: undefined });
    t.equal((await send(w, orphan)).res['39'], '00', `${mti}: the orphan reversal is acknowledged`);
    const late = await send(w, original);
    t.equal(late.res['39'], '05', `${mti}: the late original (field 41 TERM0042) is declined 05`);
    t.same(await balance(w, card), [10_000, 0], `${mti}: and holds nothing`);
  }
  // A reversal without field 41 (and without field 37) finds an original that had one.
  const auth = msg('0100', card, '000021', '00', 1_500, { 41: 'TERM0042' });
  t.equal((await send(w, auth)).res['39'], '00');
  await recordOf(w, card, '0100', '000021');
  t.same(await balance(w, card), [8_500, 1_500]);
  t.equal((await send(w, msg('0400', card, '000022', '00', 1_500, { ...LATER, 90: f90(auth), 41: undefined, 37: undefined }))).res['39'], '00');
  t.same(await balance(w, card), [10_000, 0], 'released: matched whatever its terminal');
  // A clearing without field 41 clears it rather than force-posting beside it.
  const auth2 = msg('0100', card, '000031', '00', 2_000, { 41: 'TERM0042' });
  t.equal((await send(w, auth2)).res['39'], '00');
  await recordOf(w, card, '0100', '000031');
  t.equal((await send(w, msg('0220', card, '000032', '00', 2_000, { ...LATER, 90: f90(auth2), 41: undefined, 37: undefined }))).res['39'], '00');
  t.same(await balance(w, card), [8_000, 0], 'cleared once: 2,000 posted, nothing left held');
  await assertLedgerSound(t, w);
});

t.test('a reversal gives back the daily-limit usage of what it releases', async (t) => {
  const w = await startWorld(t, '1987');
  // LIM_ATM: ATM withdrawals at most 3,000 a day.
  const card = await newCard(w, 300, { program: 'LIM_ATM', topUpMinor: 20_000 });
  const atm = (stan: string, amount: number) => msg('0100', card, stan, '01', amount, { 18: '6011' });
  const first = atm('000001', 2_500);
  t.equal((await send(w, first)).res['39'], '00', '2,500 withdrawn');
  t.equal((await send(w, atm('000002', 2_500))).res['39'], '61', 'a second 2,500 is over the limit');
  t.equal((await send(w, msg('0400', card, '000003', '01', 2_500, { ...LATER, 90: f90(first) }))).res['39'], '00', 'the first is reversed (the ATM failed)');
  const retry = atm('000004', 2_500);
  t.equal((await send(w, retry)).res['39'], '00', 'the retry is approved');
  t.equal((await send(w, msg('0400', card, '000005', '01', 2_500, { ...LATER, 90: f90(retry), 95: f95(500) }))).res['39'], '00', 'partial dispense: 500 of 2,500');
  t.equal((await send(w, atm('000006', 2_500))).res['39'], '00', 'the 2,000 given back makes room for 2,500 more');
  t.equal((await send(w, atm('000007', 1))).res['39'], '61', 'and the limit holds after that');
  // Count limits: a full reversal gives the count back too.
  const counted = await newCard(w, 301, { program: 'LIM_CNT' });
  const a = msg('0100', counted, '000001', '00', 10);
  t.equal((await send(w, a)).res['39'], '00');
  t.equal((await send(w, msg('0100', counted, '000002', '00', 10))).res['39'], '00');
  t.equal((await send(w, msg('0100', counted, '000003', '00', 10))).res['39'], '65', 'the third of the day is over the count');
  t.equal((await send(w, msg('0420', counted, '000004', '00', 10, { ...LATER, 90: f90(a) }))).res['39'], '00');
  t.equal((await send(w, msg('0100', counted, '000005', '00', 10))).res['39'], '00', 'after a full reversal the count is given back');
  await assertLedgerSound(t, w);
});

t.test('amounts beyond n12: declined 13 on the wire, field 54 stays 20 characters an entry', async (t) => {
  const w = await startWorld(t, '1987');
  const MAX = 999_999_999_999;
  const rich = await newCard(w, 400, { topUpMinor: MAX - 1_000 });
  t.equal((await send(w, msg('0200', rich, '000001', '28', 2_000))).res['39'], '13', 'a payment credit past the maximum balance: 13');
  t.equal((await send(w, msg('0100', rich, '000002', '20', 2_000))).res['39'], '00', 'a refund authorization holds nothing');
  t.same(await balance(w, rich), [MAX - 1_000, 0], 'nothing credited');
  const advice = await send(w, msg('0220', rich, '000003', '28', 2_000, { 37: undefined }));
  t.equal(advice.res['39'], '00', 'an advice is acknowledged');
  t.same(await balance(w, rich), [MAX - 1_000, 0], 'but cannot be posted past the maximum');
  t.match(await recordOf(w, rich, '0220', '000003'), { processingStatus: 'INVALID', reason: 'INVALID_AMOUNT' }, 'and is recorded INVALID for operations');
  const inquiry = await send(w, msg('0100', rich, '000004', '30', 0));
  t.equal(inquiry.res['39'], '00');
  t.match(inquiry.res['54'], /^(?:00(?:01|02)978C\d{12}){2}$/, 'field 54: two 20-character entries');
  const fees = await newCard(w, 401, { program: 'FEES', topUpMinor: 1_000 });
  t.equal((await send(w, msg('0100', fees, '000001', '00', MAX))).res['39'], '13', 'the largest amount plus its fee can never be held: 13');
  await assertLedgerSound(t, w);
});

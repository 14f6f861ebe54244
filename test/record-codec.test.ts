// How a transaction record is stored (stores/record-codec.ts): a JSON array of its values, about
// half the bytes of the JSON object it was, read back as the very same object; records stored
// before (JSON objects) are still read; a record that does not fit the array keeps the object.
import t from 'tap';
import { decodeRecord, encodeRecord } from '../stores/record-codec.js';
import { TransactionRecords, type TransactionObject } from '../stores/records.js';
import { Ledger } from '../ledger/index.js';
import { StoreKeys } from '../ledger/keys.js';
import { startTestRedis } from './helpers/redis.js';

const ID = '3f2c8a1e-7b4d-4c6e-9a0b-1d2e3f4a5b6c';

/** An approved 0100's record, as the switch renders it (switch/process/render.ts). */
function cardRecord(): TransactionObject {
  return {
    id: ID, balanceId: 'd5fc6c49-33f6-42b7-a8ae-fc311744e73d', resourceId: 'M4I2KEcAs-v1UsRn', resource: 'card', cardId: 'M4I2KEcAs-v1UsRn',
    externalTransactionId: 'M4I2KEcAs-v1UsRn.010.1130022642.012019.00000654321.DEMO0001', referenceExternalTransactionId: null,
    type: 'POS', category: 'DEBIT', amount: 663, currency: 'EUR', originalAmount: null, originalCurrency: null, status: 'AUTHORIZED',
    description: 'ANTACA DEMO SHOP "1"', date: '2026-11-30T02:26:42.745Z', referenceExternalTransactionDate: null,
    transactionData: {
      mcc: '5411', merchantIdentifier: 'MERCHANT0000001', merchantName: 'ANTACA DEMO SHOP "1"', merchantCity: 'ŁÓDŹ', captureMode: 'NFC',
      lastFourDigits: '1978', acquirerCountry: 'POL', retrievalReferenceNumber: '012019665432',
    },
    processingStatus: 'SUCCESS', reason: 'APPROVED', responseCode: '00', mti: '0100', feeMinor: 12, fxFeeMinor: 0,
  };
}

/** A top-up's record, as the management API writes it (TransactionRecords.recordInternal). */
function balanceRecord(): TransactionObject {
  const r = cardRecord();
  return {
    ...r, resource: 'balance', resourceId: r.balanceId, cardId: null, type: 'topUp', category: 'CREDIT', status: 'CLEARED',
    description: 'opening balance', responseCode: '', mti: '',
    transactionData: { mcc: null, merchantIdentifier: null, merchantName: null, merchantCity: null, captureMode: null, lastFourDigits: null, acquirerCountry: null, retrievalReferenceNumber: null },
  };
}

t.test('a record goes through the array layout unchanged, in fewer bytes', async (t) => {
  for (const rec of [cardRecord(), balanceRecord()]) {
    const stored = encodeRecord(rec);
    t.ok(stored.startsWith('[1,'), `${rec.resource} record: stored as the v1 array`);
    t.notMatch(stored, ID, 'without its id (the key names it)');
    t.same(decodeRecord(ID, stored), rec, `${rec.resource} record: read back field for field`);
    t.same(Object.keys(decodeRecord(ID, stored)), Object.keys(rec), 'in the same key order (the API prints it)');
    const object = JSON.stringify(rec).length;
    t.ok(stored.length < object * 0.6, `${stored.length} bytes against ${object} as a JSON object`);
  }
});

t.test('wouldDecline: layout 2 carries it (null or the control and reason); a record without it stays layout 1, byte for byte', async (t) => {
  const plain = cardRecord();
  t.ok(encodeRecord(plain).startsWith('[1,'), 'no wouldDecline: layout 1');
  t.notOk('wouldDecline' in decodeRecord(ID, encodeRecord(plain)), 'and read back without one');
  const shadow: TransactionObject = { ...cardRecord(), wouldDecline: { controlId: 'card:atm-week', reason: 'EXCEEDS_AMOUNT_LIMIT' } };
  const stored = encodeRecord(shadow);
  t.ok(stored.startsWith('[2,'), 'layout 2');
  t.ok(stored.endsWith(',{"controlId":"card:atm-week","reason":"EXCEEDS_AMOUNT_LIMIT"}]'), 'the control and reason last');
  t.same(decodeRecord(ID, stored), shadow, 'read back field for field');
  t.same(Object.keys(decodeRecord(ID, stored)), Object.keys(shadow), 'in the same key order');
  const none: TransactionObject = { ...cardRecord(), wouldDecline: null };
  t.same(decodeRecord(ID, encodeRecord(none)), none, 'an explicit null is kept');
  const object = { ...shadow, reversedAmount: 100 };
  t.same(decodeRecord(ID, encodeRecord(object)), object, 'the JSON-object form carries it too');
  t.throws(() => decodeRecord(ID, '[2,"x"]'), /unknown stored layout 2 of 2 values/, 'a layout 2 of the wrong length is an error');
});

t.test('a record the array cannot carry keeps the JSON object, and an old object is read as it was', async (t) => {
  const odd = { ...cardRecord(), resourceId: 'something-else' };
  t.equal(encodeRecord(odd), JSON.stringify(odd), 'a resourceId that is neither the card nor the balance');
  const secondsOnly = { ...cardRecord(), date: '2026-11-30T02:26:42Z' };
  t.same(decodeRecord(ID, encodeRecord(secondsOnly)), secondsOnly, 'a date that is not in milliseconds comes back as written');
  const reversed = { ...cardRecord(), reversedAmount: 100 };
  t.same(decodeRecord(ID, encodeRecord(reversed)), reversed, 'a reversedAmount is kept');
  t.same(decodeRecord(ID, JSON.stringify(cardRecord())), cardRecord(), 'a record stored as an object before this layout');
  t.throws(() => decodeRecord(ID, '[3,"x"]'), /unknown stored layout 3/, 'a layout this version does not know is an error, not a wrong record');
});

t.test('records written through the store are arrays in Redis; old objects beside them are still listed', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  const records = new TransactionRecords(r.client, ledger);
  const bal = await ledger.createUserBalance({ customerId: 'cust-codec', currency: 'EUR', configId: '0019167984' });
  const nowMs = Date.parse('2026-11-30T02:26:42.745Z');
  const internal = await records.recordInternal({
    balanceId: bal.id, txId: 'topup-1', type: 'topUp', category: 'CREDIT', amountMinor: 5_000, currency: 'EUR', description: 'opening balance', ok: true, reason: 'APPROVED', nowMs,
  });
  const g = ledger.keys.groupOfBalance(bal.id);
  const raw = await r.client.get(StoreKeys.record(g, internal.id));
  t.ok(raw?.startsWith('[1,'), 'stored as the array');
  t.same(await records.get(internal.id), internal, 'read back by id as written');

  // A record from before the layout: a JSON object under its key, in the balance's index.
  const old: TransactionObject = { ...balanceRecord(), id: '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d', balanceId: bal.id, resourceId: bal.id, date: new Date(nowMs - 1_000).toISOString() };
  await r.client.set(StoreKeys.record(g, old.id), JSON.stringify(old));
  await r.client.zadd(StoreKeys.recordsOfBalance(g, bal.id), nowMs - 1_000, old.id);
  const page = await records.list({ balanceId: bal.id, limit: 10 });
  t.same(page.items.map((x) => x.id), [internal.id, old.id], 'both listed, newest first');
  t.same(page.items[1], old, 'the old object read as it was stored');
});

t.test('reference indexes: one string per reference, a second original appended, sets written before still read', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  const records = new TransactionRecords(r.client, ledger);
  const bal = await ledger.createUserBalance({ customerId: 'cust-ref', currency: 'EUR', configId: '0019167984' });
  const g = ledger.keys.groupOfBalance(bal.id);
  const original = (n: number, rrn: string): TransactionObject => {
    const rec = cardRecord();
    return {
      ...rec, id: `${n}0000000-7b4d-4c6e-9a0b-1d2e3f4a5b6c`, balanceId: bal.id, externalTransactionId: `card-ref.010.1130022642.00000${n}.00000654321.T${n}`,
      resourceId: 'card-ref', cardId: 'card-ref', transactionData: { ...rec.transactionData, retrievalReferenceNumber: rrn },
    };
  };
  const write = (rec: TransactionObject, n: number) => records.writeMany([{ dk: Buffer.alloc(18, n), rec, answer: null, nowMs: Date.now(), indexRrn: true }]);
  await write(original(1, 'RRN000000001'), 1);
  const rrnKey = StoreKeys.originalsByRrn(g, 'card-ref', 'RRN000000001');
  t.equal(await r.client.type(rrnKey), 'string', 'the index of one original is a string');
  t.ok(await r.client.pttl(rrnKey) > 0, 'with an expiry');
  t.same(await records.byRetrievalReference(bal.id, 'card-ref', 'RRN000000001'), [original(1, 'x').externalTransactionId]);
  await write(original(2, 'RRN000000001'), 2);
  t.same(await records.byRetrievalReference(bal.id, 'card-ref', 'RRN000000001'), [1, 2].map((n) => original(n, 'x').externalTransactionId), 'a second original under the same reference is appended');
  t.same(await records.byOriginalIdentity(bal.id, 'card-ref.010.1130022642.000002.00000654321'), [original(2, 'x').externalTransactionId], 'the field-90 identity index likewise');

  // An index stored as a set by an earlier version: read as before, and added to as a set.
  const oldKey = StoreKeys.originalsByRrn(g, 'card-ref', 'RRN000000003');
  await r.client.sadd(oldKey, 'tx-before');
  await write(original(3, 'RRN000000003'), 3);
  t.equal(await r.client.type(oldKey), 'set');
  t.same((await records.byRetrievalReference(bal.id, 'card-ref', 'RRN000000003')).sort(), ['tx-before', original(3, 'x').externalTransactionId].sort(), 'both ids');
  t.ok(await r.client.pttl(oldKey) > 0, 'and the set now expires like the strings');
  t.same(await records.byRetrievalReference(bal.id, 'card-ref', 'RRN-NONE'), [], 'an absent reference names nothing');
});

// How a transaction record is stored in its `{gNN}:rec:<recordId>` string (stores/records.ts).
//
// A record is written for every money message, so its stored form is paid for on every answer:
// in Redis's memory, in the AOF (fsync always), and in every AOF rewrite. As a JSON object it
// carried about 900 bytes for an 0100, more than half of them field names and nulls. It is now a
// JSON array of the values in a fixed order (RECORD_FIELDS), tagged with the layout's version:
//
//   [1, balanceId, cardId, resource, externalTransactionId, referenceExternalTransactionId, type,
//    category, amount, currency, originalAmount, originalCurrency, status, description, dateMs,
//    referenceExternalTransactionDate, mcc, merchantIdentifier, merchantName, merchantCity,
//    captureMode, lastFourDigits, acquirerCountry, retrievalReferenceNumber, processingStatus,
//    reason, responseCode, mti, feeMinor, fxFeeMinor]
//
// Layout 2 is layout 1 with one more value at the end, `wouldDecline` (null, or the object
// {controlId, reason} of the SHADOW spend control that would have declined the transaction), and
// the tag 2. A record that does not carry the field at all is written in layout 1, byte for byte as
// before, so the common record pays nothing for it; both layouts are read.
//
// Left out because they are known when the record is read: `id` (the key names it), `resourceId`
// (the card's id for a card record, the balance's for a balance record), and the date's text (kept
// as epoch ms). A record whose values do not fit that shape (a resourceId that is neither, a date
// that is not a millisecond ISO time) is stored as the full JSON object, and so are the records
// written before this layout: decodeRecord reads both. Nothing is lost or renamed on the way: the
// round trip is tested field by field (test/record-codec.test.ts).
import type { TransactionObject } from './transaction-object.js';

/** Version tag of the array layout (its first element). */
const LAYOUT_V1 = 1;
/** Elements of a v1 array, the tag included. */
const V1_LENGTH = 30;
/** Layout 2: layout 1's values, then wouldDecline. */
const LAYOUT_V2 = 2;
const V2_LENGTH = 31;

/**
 * The stored form of a record: the compact array when the record fits it, else its JSON object.
 * Never throws; the result is valid JSON.
 */
export function encodeRecord(rec: TransactionObject): string {
  const ms = Date.parse(rec.date);
  const resourceId = rec.resource === 'card' ? rec.cardId : rec.balanceId;
  if (rec.resourceId !== resourceId || !Number.isSafeInteger(ms) || new Date(ms).toISOString() !== rec.date || rec.reversedAmount !== undefined
    || rec.reasonDetail !== undefined || rec.threeDSecure !== undefined) {
    return JSON.stringify(rec);
  }
  const d = rec.transactionData;
  const v2 = rec.wouldDecline !== undefined;
  const values: unknown[] = [
    v2 ? LAYOUT_V2 : LAYOUT_V1, rec.balanceId, rec.cardId, rec.resource, rec.externalTransactionId, rec.referenceExternalTransactionId, rec.type,
    rec.category, rec.amount, rec.currency, rec.originalAmount, rec.originalCurrency, rec.status, rec.description, ms,
    rec.referenceExternalTransactionDate, d.mcc, d.merchantIdentifier, d.merchantName, d.merchantCity,
    d.captureMode, d.lastFourDigits, d.acquirerCountry, d.retrievalReferenceNumber, rec.processingStatus,
    rec.reason, rec.responseCode, rec.mti, rec.feeMinor, rec.fxFeeMinor,
  ];
  if (v2) values.push(rec.wouldDecline);
  return JSON.stringify(values);
}

/**
 * The record stored under `{gNN}:rec:<id>`, from either stored form. Throws SyntaxError when the
 * text is not JSON, and Error when it is an array of an unknown layout (a record written by a
 * newer version of the switch).
 */
export function decodeRecord(id: string, stored: string): TransactionObject {
  const v = JSON.parse(stored) as unknown;
  if (!Array.isArray(v)) return v as TransactionObject;
  const v2 = v[0] === LAYOUT_V2 && v.length === V2_LENGTH;
  if (!v2 && (v[0] !== LAYOUT_V1 || v.length !== V1_LENGTH)) throw new Error(`record ${id}: unknown stored layout ${String(v[0])} of ${v.length} values`);
  const a = v as unknown[];
  const resource = a[3] as TransactionObject['resource'];
  const balanceId = a[1] as string | null;
  const cardId = a[2] as string | null;
  const rec: TransactionObject = {
    id, balanceId, resourceId: resource === 'card' ? cardId : balanceId, resource, cardId,
    externalTransactionId: a[4] as string | null, referenceExternalTransactionId: a[5] as string | null,
    type: a[6] as string, category: a[7] as TransactionObject['category'], amount: a[8] as number | null,
    currency: a[9] as string | null, originalAmount: a[10] as number | null, originalCurrency: a[11] as string | null,
    status: a[12] as TransactionObject['status'], description: a[13] as string, date: new Date(a[14] as number).toISOString(),
    referenceExternalTransactionDate: a[15] as string | null,
    transactionData: {
      mcc: a[16] as string | null, merchantIdentifier: a[17] as string | null, merchantName: a[18] as string | null,
      merchantCity: a[19] as string | null, captureMode: a[20] as string | null, lastFourDigits: a[21] as string | null,
      acquirerCountry: a[22] as string | null, retrievalReferenceNumber: a[23] as string | null,
    },
    processingStatus: a[24] as TransactionObject['processingStatus'], reason: a[25] as string, responseCode: a[26] as string,
    mti: a[27] as string, feeMinor: a[28] as number, fxFeeMinor: a[29] as number,
  };
  if (v2) rec.wouldDecline = a[30] as TransactionObject['wouldDecline'];
  return rec;
}

// The transaction record of one decided message (switch/records.ts): the seed's transaction object
// built from the request's fields and what deciding it found out (outcome.ts). No PAN: the last
// four digits only.
import type { TransactionObject } from '../records.js';
import { currencyAlpha } from '../currency.js';
import type { Inbound } from './outcome.js';
import { captureModeOf } from './pricing.js';
import { text } from './wire.js';

/** Messages that get a record: every money message and its advices; network management does not. */
export function isRecorded(mti: string): boolean {
  const c = mti.charCodeAt(1);
  return c === 49 || c === 50 || c === 52; // 01xx, 02xx, 04xx
}

export function transactionObject(m: Inbound, recordId: string, responseCode: string, nowMs: number): TransactionObject {
  const f = m.fields;
  const o = m.o;
  const card = o.card;
  const pan = text(f, 2);
  const f43 = text(f, 43);
  const country = f43 !== undefined && f43.length >= 40 ? f43.slice(-3).trim() : '';
  const priced = o.priced;
  const f49 = text(f, 49);
  return {
    id: recordId,
    balanceId: card?.balanceId ?? null,
    resourceId: card?.id ?? null,
    resource: 'card',
    cardId: card?.id ?? null,
    externalTransactionId: o.txId,
    referenceExternalTransactionId: o.referenceTxId,
    type: o.type,
    category: o.category,
    amount: o.amountMinor,
    currency: card?.currency ?? (f49 === undefined ? null : currencyAlpha(f49) ?? null),
    originalAmount: priced === null ? null : priced.originalAmountMinor,
    originalCurrency: priced === null ? null : priced.originalCurrency,
    status: o.status,
    description: f43 === undefined ? o.reason : f43.slice(0, 25).trim(),
    date: new Date(nowMs).toISOString(),
    referenceExternalTransactionDate: null,
    transactionData: {
      mcc: text(f, 18) ?? null,
      merchantIdentifier: text(f, 42)?.trim() ?? null,
      merchantName: f43 === undefined ? null : f43.slice(0, 25).trim(),
      captureMode: captureModeOf(f),
      lastFourDigits: pan === undefined ? null : pan.slice(-4),
      acquirerCountry: country === '' ? null : country,
      retrievalReferenceNumber: text(f, 37) ?? null,
    },
    processingStatus: o.processing,
    reason: o.reason,
    responseCode,
    mti: m.mti,
    feeMinor: priced?.feeMinor ?? 0,
    fxFeeMinor: priced?.fxFeeMinor ?? 0,
  };
}

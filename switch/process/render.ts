// Rendering a decision (decision.ts): the wire answer, the transaction record and the live-feed
// event of one message all come from the request and its one Decision value, here and nowhere
// else. No PAN leaves this module except in the wire answer's echoed field 2: the record keeps the
// last four digits, the event the masked PAN.
import type { IsoFields, IsoMessage } from '../../iso/codec.js';
import type { TransactionObject } from '../../stores/records.js';
import { currencyAlpha } from '../../iso/currency.js';
import { maskPan } from '../../iso/mask.js';
import { responseCode, type Dialect } from '../../iso/reasons.js';
import type { Decision, Request } from './decision.js';
import { captureModeOf } from './plan/pricing.js';
import { balanceEntry, balancesField54, text } from '../../iso/wire.js';
import type { ProcessedEvent } from '../events.js';
import { cardDataOf, isFieldError, messagePan } from '../../cardauth/fields.js';
import type { IssuerAuthentication, KeyStore } from '../../cardauth/keys.js';
import { tlv } from '../../cardauth/tlv.js';
export type { ProcessedEvent } from '../events.js';

/** Fields every response echoes when the request had them (SPEC §2.2). */
export const ECHO_FIELDS: readonly number[] = [2, 3, 4, 7, 11, 32, 37, 41, 42, 49];
/** Network management answers echo only these (SPEC §2.2, 0800 row). */
export const NETWORK_ECHO_FIELDS: readonly number[] = [7, 11, 70];

/** An answer echoing `echo` from the request, with field 39 = `code`. */
export function answer(request: IsoFields, mti: string, echo: readonly number[], code: string): IsoMessage {
  const fields: IsoFields = new Map();
  for (const f of echo) {
    const v = request.get(f);
    if (v !== undefined) fields.set(f, v);
  }
  fields.set(39, code);
  return { mti, fields };
}

/**
 * The wire answer of a decision: the response MTI of the message's class, the echoed fields,
 * 39 from the reason (APPROVED for an advice, SPEC §2.4), 38 on approval, 54 when the balance is known.
 */
export function renderAnswer(dialect: Dialect, req: Request, d: Decision): IsoMessage {
  const echo = req.cls.kind === 'NETWORK' ? NETWORK_ECHO_FIELDS : ECHO_FIELDS;
  const res = answer(req.msg.fields, req.cls.responseMti, echo, responseCode(d.acknowledged ? 'APPROVED' : d.reason, dialect));
  if (d.authorizationId !== null) res.fields.set(38, d.authorizationId);
  const b = d.balance;
  if (b !== null) res.fields.set(54, balancesField54(b.currencyN3, b.availableMinor, b.blockedMinor));
  const partial = d.partial;
  if (partial !== null) {
    // A partial approval: field 4 is the amount approved; field 54 adds the amount asked for (type 57).
    const n3 = text(req.msg.fields, 49) ?? b?.currencyN3 ?? '';
    res.fields.set(4, String(partial.approvedMinor).padStart(12, '0'));
    res.fields.set(54, (res.fields.get(54) as string | undefined ?? '') + balanceEntry('57', n3, partial.requestedMinor));
  }
  return res;
}

/** Field 43 (ans 40) read with one layout (SPEC §2.2): name 1–22, city 24–36, country alpha-3 38–40. */
export interface MerchantLocation { name: string | null; city: string | null; country: string | null }

const ALPHA3 = /^[A-Z]{3}$/;

export function merchantLocation(f43: string | undefined): MerchantLocation {
  if (f43 === undefined) return { name: null, city: null, country: null };
  const name = f43.slice(0, 22).trim();
  const city = f43.slice(23, 36).trim();
  const country = f43.slice(37, 40).trim();
  return { name: name === '' ? null : name, city: city === '' ? null : city, country: ALPHA3.test(country) ? country : null };
}

/** The transaction record of a decided message (stores/records.ts), shaped as the seed's transaction object. */
export function renderRecord(req: Request, d: Decision, recordId: string, rc: string, nowMs: number): TransactionObject {
  const f = req.msg.fields;
  const card = d.card;
  const pan = messagePan(f);
  const cardData = f.has(48) ? cardDataOf(f) : null;
  const threeDSecure = cardData !== null && !isFieldError(cardData) && cardData.additional.threeDSecure;
  const where = merchantLocation(text(f, 43));
  const priced = d.priced;
  const f49 = text(f, 49);
  return {
    id: recordId,
    balanceId: card?.balanceId ?? null,
    resourceId: card?.id ?? null,
    resource: 'card',
    cardId: card?.id ?? null,
    externalTransactionId: d.txId,
    referenceExternalTransactionId: d.referenceTxId,
    type: d.type,
    category: d.category,
    amount: d.amountMinor,
    currency: card?.currency ?? (f49 === undefined ? null : currencyAlpha(f49) ?? null),
    originalAmount: priced === null ? null : priced.originalAmountMinor,
    originalCurrency: priced === null ? null : priced.originalCurrency,
    status: d.status,
    description: where.name ?? d.reason,
    date: new Date(nowMs).toISOString(),
    referenceExternalTransactionDate: null,
    transactionData: {
      mcc: text(f, 18) ?? null,
      merchantIdentifier: text(f, 42)?.trim() ?? null,
      merchantName: where.name,
      merchantCity: where.city,
      captureMode: captureModeOf(f),
      lastFourDigits: pan === undefined ? null : pan.slice(-4),
      acquirerCountry: where.country,
      retrievalReferenceNumber: text(f, 37) ?? null,
    },
    processingStatus: d.processing,
    reason: d.reason,
    responseCode: rc,
    mti: req.msg.mti,
    feeMinor: priced?.feeMinor ?? 0,
    fxFeeMinor: priced?.fxFeeMinor ?? 0,
    ...(d.reasonDetail === null ? {} : { reasonDetail: d.reasonDetail }),
    ...(d.wouldDecline === null ? {} : { wouldDecline: { controlId: d.wouldDecline.controlId, reason: d.wouldDecline.reason } }),
    ...(threeDSecure ? { threeDSecure: true as const } : {}),
  };
}

/**
 * Field 55 of an answer to a message whose ARQC verified: tag 91, issuer authentication data,
 * the ARPC (method 1, 8 bytes) then the ARC (2 bytes: the ASCII of field 39's first two
 * characters), as hex. The ARPC is made once the response code is known (KeyStore.generateArpc).
 */
export async function issuerAuthenticationData(keys: KeyStore, auth: IssuerAuthentication, rc: string): Promise<string> {
  const arc = rc.slice(0, 2);
  const arpc = await keys.generateArpc(auth, arc);
  return tlv('91', Buffer.concat([arpc, Buffer.from(arc, 'latin1')])).toString('hex').toUpperCase();
}

/** The live-feed event of a recorded message. */
export function renderEvent(req: Request, d: Decision, rec: TransactionObject, rc: string, nowMs: number): ProcessedEvent {
  const pan = messagePan(req.msg.fields);
  return {
    timeMs: nowMs, mti: req.msg.mti, responseCode: rc, reason: d.reason, maskedPan: pan === undefined ? null : maskPan(pan),
    amountMinor: d.amountMinor, currency: rec.currency, txId: d.txId, scriptSeconds: d.scriptSeconds, partnerCall: d.partnerCall,
    wouldDecline: d.wouldDecline?.reason ?? null,
  };
}

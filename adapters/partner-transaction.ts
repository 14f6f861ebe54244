// Builds the body of a `/transactions/...` call (the seed's External Balance "Transaction object")
// from plain values the switch already has. The switch decides the values (which ids, which
// amounts); this only shapes them and refuses what must never leave the switch (a PAN).
import { randomUUID } from 'node:crypto';
import { AppError } from '../errors/index.js';
import type {
  PartnerTransaction, PartnerTransactionData, PartnerTransactionStatus, PartnerTransactionType,
} from './partner-types.js';

/** Inputs of buildPartnerTransaction. Amounts are integers in minor units of their currency. */
export interface PartnerTransactionInput {
  /** UUID v4 of this call's transaction object; a fresh one when left out. */
  id?: string;
  balanceId: string;
  /** The card id (resource `card`) or the balance id (resource `balance`). */
  resourceId: string;
  resource?: 'card' | 'balance';
  /** Same for every call about one transaction (see docs/partners.md: how it is derived). */
  transactionId: string;
  referenceTransactionId?: string | null;
  type: PartnerTransactionType;
  amountMinor: number;
  currency: string;
  originalAmountMinor?: number | null;
  originalCurrency?: string | null;
  status: PartnerTransactionStatus;
  description?: string;
  /** When the transaction happened: a Date or epoch milliseconds; now when left out. */
  date?: Date | number;
  transactionData?: Partial<PartnerTransactionData> | null;
}

/** A value that would put an invalid or unsafe body on the wire (a programmer error, thrown). */
export class PartnerBodyError extends AppError<'PARTNER_ERR_BODY'> {
  constructor(message: string) {
    super('PARTNER_ERR_BODY', message);
  }
}

const CURRENCY = /^[A-Z]{3}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// A run of 13-19 digits may be a PAN; no field of the body may carry one.
const PAN_LIKE = /\d{13,19}/;
const LAST_FOUR = /^\d{4}$/;

const EMPTY_DATA: PartnerTransactionData = {
  mcc: null, merchantIdentifier: null, merchantName: null, captureMode: null, lastFourDigits: null,
  acquirerCountry: null, mdesDigitizedWalletId: null, cashbackPosCurrencyCode: null, cashbackPosAmount: null,
  lastFourDpan: null, adjustmentReasonDescription: null, retrievalReferenceNumber: null, cardId: null,
};

/**
 * `2024-05-01T10:00:00.123Z` → `2024-05-01T10:00:00+00:00`, the seed's date form.
 */
export function partnerDate(at: Date | number): string {
  const d = typeof at === 'number' ? new Date(at) : at;
  return d.toISOString().slice(0, 19) + '+00:00';
}

/**
 * The seed's transaction object for one call. Throws PartnerBodyError when an amount is not a
 * non-negative safe integer, a currency not ISO 4217 alpha-3, `id` not a UUID, a last-four field not
 * four digits, or the description or a `transactionData` text holds 13-19 consecutive digits (a PAN
 * must never reach a partner; ids are the caller's and not checked).
 */
export function buildPartnerTransaction(i: PartnerTransactionInput): PartnerTransaction {
  const id = i.id ?? randomUUID();
  if (!UUID.test(id)) throw new PartnerBodyError('id must be a UUID');
  amount('amountMinor', i.amountMinor);
  if (!CURRENCY.test(i.currency)) throw new PartnerBodyError('currency must be ISO 4217 alpha-3');
  const originalAmount = i.originalAmountMinor ?? null;
  if (originalAmount !== null) amount('originalAmountMinor', originalAmount);
  const originalCurrency = i.originalCurrency ?? null;
  if (originalCurrency !== null && !CURRENCY.test(originalCurrency)) throw new PartnerBodyError('originalCurrency must be ISO 4217 alpha-3');
  const data = i.transactionData === null ? null : { ...EMPTY_DATA, ...(i.transactionData ?? {}) };
  if (data !== null) checkData(data);
  const tx: PartnerTransaction = {
    id,
    balanceId: i.balanceId,
    resourceId: i.resourceId,
    resource: i.resource ?? 'card',
    transactionId: i.transactionId,
    referenceTransactionId: i.referenceTransactionId ?? null,
    type: i.type,
    amount: i.amountMinor,
    currency: i.currency,
    originalAmount,
    originalCurrency,
    status: i.status,
    description: i.description ?? '',
    date: partnerDate(i.date ?? Date.now()),
    transactionData: data,
  };
  noPan('description', tx.description);
  return tx;
}

function amount(name: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0) throw new PartnerBodyError(`${name} must be a non-negative integer of minor units`);
}

function checkData(d: PartnerTransactionData): void {
  for (const k of ['lastFourDigits', 'lastFourDpan'] as const) {
    const v = d[k];
    if (v !== null && !LAST_FOUR.test(v)) throw new PartnerBodyError(`transactionData.${k} must be four digits`);
  }
  if (d.cashbackPosAmount !== null) amount('transactionData.cashbackPosAmount', d.cashbackPosAmount);
  for (const [k, v] of Object.entries(d)) noPan(`transactionData.${k}`, v);
}

function noPan(name: string, v: unknown): void {
  if (typeof v === 'string' && PAN_LIKE.test(v)) throw new PartnerBodyError(`${name} holds 13 or more consecutive digits (a card number is never sent to a partner)`);
}

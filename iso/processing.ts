// The processing-code table (field 3, first two digits; SPEC §2.2): what kind of transaction a
// code asks for, its seed transaction type and category, and which way money moves. Read
// everywhere a processing code matters (checks, pricing, records, compensation): there is no
// second copy of it.

/** What a processing code asks the ledger to do. */
export type TxKind = 'DEBIT' | 'REFUND' | 'PAYMENT_CREDIT' | 'INQUIRY';

export interface ProcessingCode {
  /** Field 3, first two digits. */
  readonly code: string;
  readonly kind: TxKind;
  /** Seed transaction type (Legacy Transactions Notifier `type`). */
  readonly type: string;
  /** Seed transaction category: DEBIT takes money from the card's balance, CREDIT gives it. */
  readonly category: 'DEBIT' | 'CREDIT';
  /** Money the message moves on the user balance: out (debit), in (credit) or none (inquiry). */
  readonly money: 'OUT' | 'IN' | 'NONE';
}

const row = (code: string, kind: TxKind, type: string, category: 'DEBIT' | 'CREDIT', money: 'OUT' | 'IN' | 'NONE'): ProcessingCode =>
  Object.freeze({ code, kind, type, category, money });

/** SPEC §2.2: 00 purchase, 01 cash/ATM, 09 purchase with cashback, 20 refund, 28 payment credit, 30 balance inquiry. */
export const PROCESSING_CODES: ReadonlyMap<string, ProcessingCode> = new Map([
  ['00', row('00', 'DEBIT', 'POS', 'DEBIT', 'OUT')],
  ['01', row('01', 'DEBIT', 'ATM', 'DEBIT', 'OUT')],
  ['09', row('09', 'DEBIT', 'Cashback', 'DEBIT', 'OUT')],
  ['20', row('20', 'REFUND', 'Refund', 'CREDIT', 'IN')],
  ['28', row('28', 'PAYMENT_CREDIT', 'Payment', 'CREDIT', 'IN')],
  ['30', row('30', 'INQUIRY', 'Balance Inquiry', 'DEBIT', 'NONE')],
]);

/** A code the table does not know: answered 12 (UNKNOWN_TRANSACTION_TYPE), recorded with this type. */
export const UNKNOWN_PROCESSING_CODE: ProcessingCode = row('', 'DEBIT', 'UNKNOWN', 'DEBIT', 'NONE');

/** Type and category of an account verification (zero-amount 0100 with processing code 00, SPEC §2.2). */
export const ACCOUNT_VERIFICATION_TYPE = 'ACCOUNT_VERIFICATION';
/** Type and category of a reversal's own record (seed: an Adjustment credit). */
export const REVERSAL_TYPE = 'Adjustment';

/** The row of field 3, or undefined when field 3 is absent or its code unknown. */
export function processingCodeOf(f3: string | undefined): ProcessingCode | undefined {
  return f3 === undefined ? undefined : PROCESSING_CODES.get(f3.slice(0, 2));
}

/** The kind of transaction of field 3, or undefined (absent or unknown code). */
export function kindOf(f3: string | undefined): TxKind | undefined {
  return processingCodeOf(f3)?.kind;
}

export function isCredit(kind: TxKind): boolean {
  return kind === 'REFUND' || kind === 'PAYMENT_CREDIT';
}

// Input checks of the ledger API: a call with bad input is refused before Redis is touched.
import { LedgerError } from './codes.js';
import { MAX_AMOUNT_MINOR } from './types.js';

const MAX_ID_LENGTH = 200;

/**
 * A positive integer amount in minor units, at most MAX_AMOUNT_MINOR (SPEC §2.2).
 * Throws LedgerError LEDGER_ERR_INVALID_AMOUNT (not a positive safe integer) or
 * LEDGER_ERR_AMOUNT_TOO_LARGE (above the maximum).
 */
export function checkAmount(n: unknown, what = 'amountMinor'): asserts n is number {
  if (typeof n === 'number' && Number.isInteger(n)) checkBound(n, what);
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n <= 0) {
    throw new LedgerError('LEDGER_ERR_INVALID_AMOUNT', `${what} must be a positive safe integer (minor units), got ${String(n)}`);
  }
}

/** Fees: non-negative integers in minor units, at most MAX_AMOUNT_MINOR. */
export function checkFee(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new LedgerError('LEDGER_ERR_INVALID_AMOUNT', `fees must be non-negative safe integers (minor units), got ${String(n)}`);
  }
  checkBound(n, 'fee');
}

/** A new final amount of a partial reversal: 0..MAX_AMOUNT_MINOR. */
export function checkFinalAmount(n: unknown): asserts n is number {
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) {
    throw new LedgerError('LEDGER_ERR_INVALID_AMOUNT', `newAmountMinor must be a non-negative safe integer (minor units), got ${String(n)}`);
  }
  checkBound(n, 'newAmountMinor');
}

function checkBound(n: number, what: string): void {
  if (n > MAX_AMOUNT_MINOR) {
    throw new LedgerError('LEDGER_ERR_AMOUNT_TOO_LARGE', `${what} must be at most ${MAX_AMOUNT_MINOR} minor units (n12), got ${n}`);
  }
}

/** Ids and keys are stored inside records and journal lines: no separators, bounded length. */
export function checkId(s: unknown, what: string): asserts s is string {
  if (typeof s !== 'string' || s.length === 0 || s.length > MAX_ID_LENGTH || s.indexOf('\n') >= 0 || s.indexOf('|') >= 0 || s.indexOf('>') >= 0 || s.indexOf(';') >= 0) {
    throw new LedgerError('LEDGER_ERR_INVALID_ID', `${what} must be 1..${MAX_ID_LENGTH} characters without newline, '|', '>' or ';'`);
  }
}

export function checkCurrency(c: unknown): void {
  if (typeof c !== 'string' || c.length !== 3 || !/^[A-Z]{3}$/.test(c)) {
    throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `currency must be an ISO 4217 alphabetic code, got ${String(c)}`);
  }
}

/** A partner balance id of the expected type (`pb-<TYPE>-...`): a credit balance is never held as a deposit. */
export function checkPartnerId(id: string, type: 'DEPOSIT' | 'CREDIT' | 'COMPANY', what: string): void {
  checkId(id, what);
  if (!id.startsWith(PARTNER_PREFIX[type])) {
    throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `${what} must be a ${type} partner balance id (pb-${type}-...), got ${id}`);
  }
}

const PARTNER_PREFIX = { DEPOSIT: 'pb-DEPOSIT-', CREDIT: 'pb-CREDIT-', COMPANY: 'pb-COMPANY-' } as const;

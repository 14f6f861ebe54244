// Result codes of the ledger's Lua scripts, mapped once to named reasons (SPEC §2.4 descriptions
// where the ledger owns the decision), and the error type for calls the ledger refuses outright.
import { AppError, type ErrorCode } from '../errors/index.js';

/** Integer codes returned in position 1 of every mutating script's result (lua/includes/common.lua). */
export const Code = {
  OK: 0,
  INSUFFICIENT_FUNDS: 1,
  INSUFFICIENT_DEPOSIT: 2,
  BALANCE_NOT_FOUND: 3,
  DEPOSIT_NOT_FOUND: 4,
  TX_NOT_FOUND: 5,
  TX_EXISTS: 6,
  ALREADY_REVERSED: 7,
  IDEM_CONFLICT: 9,
  INSUFFICIENT_COLLATERAL: 10,
  COLLATERAL_NOT_FOUND: 11,
  CURRENCY_MISMATCH: 12,
  INVALID_AMOUNT: 13,
  NOT_DUE: 14,
  PARTNER_NOT_FOUND: 15,
  COMPANY_NOT_FOUND: 16,
  NOT_OPEN: 17,
  AMOUNT_LIMIT: 18,
  COUNT_LIMIT: 19,
  AMOUNT_TOO_LARGE: 20,
  /** reverse-transaction: the partner keys passed are not those the transaction names (it appeared meanwhile); TS reads and retries. Never a reason. */
  STALE_KEYS: 21,
  /** HoldArgs.guard: the key that must be absent exists (the message is a repeat). Nothing done; never a reason. */
  GUARD_PRESENT: 22,
  /** HoldArgs.guard: the guarded hash changed since the caller read it. Nothing done; never a reason. */
  GUARD_CHANGED: 23,
} as const;

export type LedgerReason =
  | 'APPROVED'
  | 'INSUFFICIENT_FUNDS'
  | 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE'
  | 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE'
  | 'BALANCE_NOT_FOUND'
  | 'DEPOSIT_BALANCE_NOT_FOUND'
  | 'COLLATERAL_BALANCE_NOT_FOUND'
  | 'COMPANY_BALANCE_NOT_FOUND'
  | 'PARTNER_BALANCE_NOT_FOUND'
  | 'CURRENCY_MISMATCH'
  | 'INVALID_AMOUNT'
  | 'TRANSACTION_NOT_FOUND'
  | 'TRANSACTION_EXISTS'
  | 'TRANSACTION_NOT_OPEN'
  | 'ALREADY_REVERSED'
  | 'NOT_DUE'
  | 'IDEMPOTENCY_CONFLICT'
  | 'EXCEEDS_AMOUNT_LIMIT'
  | 'LIMIT_EXCEED'
  | 'AMOUNT_TOO_LARGE';

const REASONS: readonly LedgerReason[] = (() => {
  const r: LedgerReason[] = [];
  r[Code.OK] = 'APPROVED';
  r[Code.INSUFFICIENT_FUNDS] = 'INSUFFICIENT_FUNDS';
  r[Code.INSUFFICIENT_DEPOSIT] = 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE';
  r[Code.BALANCE_NOT_FOUND] = 'BALANCE_NOT_FOUND';
  r[Code.DEPOSIT_NOT_FOUND] = 'DEPOSIT_BALANCE_NOT_FOUND';
  r[Code.TX_NOT_FOUND] = 'TRANSACTION_NOT_FOUND';
  r[Code.TX_EXISTS] = 'TRANSACTION_EXISTS';
  r[Code.ALREADY_REVERSED] = 'ALREADY_REVERSED';
  r[Code.IDEM_CONFLICT] = 'IDEMPOTENCY_CONFLICT';
  r[Code.INSUFFICIENT_COLLATERAL] = 'INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE';
  r[Code.COLLATERAL_NOT_FOUND] = 'COLLATERAL_BALANCE_NOT_FOUND';
  r[Code.CURRENCY_MISMATCH] = 'CURRENCY_MISMATCH';
  r[Code.INVALID_AMOUNT] = 'INVALID_AMOUNT';
  r[Code.NOT_DUE] = 'NOT_DUE';
  r[Code.PARTNER_NOT_FOUND] = 'PARTNER_BALANCE_NOT_FOUND';
  r[Code.COMPANY_NOT_FOUND] = 'COMPANY_BALANCE_NOT_FOUND';
  r[Code.NOT_OPEN] = 'TRANSACTION_NOT_OPEN';
  r[Code.AMOUNT_LIMIT] = 'EXCEEDS_AMOUNT_LIMIT';
  r[Code.COUNT_LIMIT] = 'LIMIT_EXCEED';
  r[Code.AMOUNT_TOO_LARGE] = 'AMOUNT_TOO_LARGE';
  return r;
})();

export function reasonOf(code: number): LedgerReason {
  const r = REASONS[code];
  if (r === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_CODE', `script returned unknown code ${code}`);
  return r;
}

export type TxStatus = 'NONE' | 'AUTHORIZED' | 'CLEARED' | 'REVERSED' | 'EXPIRED';
const STATUSES: readonly TxStatus[] = ['NONE', 'AUTHORIZED', 'CLEARED', 'REVERSED', 'EXPIRED'];
export function statusOf(n: number): TxStatus {
  const s = STATUSES[n];
  if (s === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_STATUS', `unknown transaction status ${n}`);
  return s;
}

/** The LEDGER_ERR_* codes of errors/table.ts, where each is documented. */
export type LedgerErrorCode = Extract<ErrorCode, `LEDGER_ERR_${string}`>;

/**
 * Calls the ledger refuses before touching Redis (bad input) and broken expectations. An AppError
 * whose code is one of the ledger's, so a caller can tell what the ledger threw.
 */
export class LedgerError extends AppError<LedgerErrorCode> {}

/**
 * A hold's HoldArgs.guard failed: `which` is PRESENT (the key that had to be absent exists) or
 * CHANGED (the guarded hash no longer holds the expected values). Nothing was read further or
 * written: the caller decides again from fresh state. Code LEDGER_ERR_PRECONDITION.
 */
export class PreconditionFailedError extends LedgerError {
  constructor(readonly which: 'PRESENT' | 'CHANGED') {
    super('LEDGER_ERR_PRECONDITION', which === 'PRESENT' ? 'hold guard: the key that had to be absent exists' : 'hold guard: the guarded hash changed');
  }
}

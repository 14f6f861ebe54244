// Result codes of the ledger's Lua scripts, mapped once to named reasons (SPEC §2.4 descriptions
// where the ledger owns the decision), and the error type for calls the ledger refuses outright.
import { AppError, type ErrorCode } from '../errors/index.js';

/**
 * Integer codes returned in position 1 of every mutating script's result: the one definition, written
 * into the scripts as `C_<name>` locals by the loader (luaConstants, ledger/scripts.ts).
 */
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
  /** HoldArgs.guard.sequence: the number is not above the one consumed (a replay). Nothing done; never a reason. */
  GUARD_REPLAYED: 24,
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

/** The reason of a script's result code; LEDGER_ERR_UNKNOWN_CODE when the code has none. */
export function reasonOf(code: number): LedgerReason {
  const r = REASONS[code];
  if (r === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_CODE', `script returned unknown code ${code}`);
  return r;
}

export type TxStatus = 'NONE' | 'AUTHORIZED' | 'CLEARED' | 'REVERSED' | 'EXPIRED';
/** Transaction statuses by their integer in a script's result (position 3) and in a record's `s`; S_<name> in Lua. */
export const TX_STATUSES: readonly TxStatus[] = ['NONE', 'AUTHORIZED', 'CLEARED', 'REVERSED', 'EXPIRED'];

/** What reverse-transaction did, by its integer in the result (position 4); E_<name> in Lua. */
export const REVERSE_EFFECTS = ['NONE', 'RELEASED', 'CREDITED_BACK', 'DEBITED_BACK'] as const;

/**
 * The Lua locals of the tables above (`local C_OK = 0`, `local S_AUTHORIZED = 1`, ...), one per
 * line: what the script loader writes at `--- @constants` in lua/includes/common.lua, so the
 * scripts and the TypeScript side read the same numbers.
 */
export function luaConstants(): string {
  const lines = ['-- Generated from ledger/codes.ts by the script loader.'];
  for (const [name, n] of Object.entries(Code)) lines.push(`local C_${name} = ${n}`);
  TX_STATUSES.forEach((name, n) => lines.push(`local S_${name} = ${n}`));
  REVERSE_EFFECTS.forEach((name, n) => lines.push(`local E_${name} = ${n}`));
  return lines.join('\n');
}

/** The status of a script result's or record's status integer; LEDGER_ERR_UNKNOWN_STATUS when it has none. */
export function statusOf(n: number): TxStatus {
  const s = TX_STATUSES[n];
  if (s === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_STATUS', `unknown transaction status ${n}`);
  return s;
}

/** The LEDGER_ERR_* codes of errors/table.ts, where each is documented. */
export type LedgerErrorCode = Extract<ErrorCode, `LEDGER_ERR_${string}`>;

/**
 * Calls the ledger refuses before touching Redis (bad input) and broken expectations.
 * Codes: LEDGER_ERR_INVALID_AMOUNT (not a positive safe integer), LEDGER_ERR_AMOUNT_TOO_LARGE
 * (above MAX_AMOUNT_MINOR, SPEC §2.2), LEDGER_ERR_INVALID_ID (empty,
 * too long, or containing a reserved character), LEDGER_ERR_INVALID_BALANCE_ID (no slot tag),
 * LEDGER_ERR_INVALID_ARGUMENT, LEDGER_ERR_GROUPS_MISMATCH (open() with a group count different from
 * the one the data was created with), LEDGER_ERR_CONTENTION (a transaction kept changing between
 * the read of its partner ids and its script), LEDGER_ERR_TRANSFER, LEDGER_ERR_UNKNOWN_CODE /
 * _STATUS (script and code disagree), LEDGER_ERR_SCRIPT_CONSTANT (a script names a constant this
 * module does not define), LEDGER_ERR_SCRIPT_MISSING, LEDGER_ERR_INVARIANT. A script answer that
 * breaks an invariant is LedgerAssertionError (ledger/assert.ts), not this class.
 */
export class LedgerError extends AppError<LedgerErrorCode> {}

/**
 * A hold's HoldArgs.guard failed: `which` is PRESENT (the key that had to be absent exists) or
 * CHANGED (the guarded hash no longer holds the expected values). Nothing was read further or
 * written: the caller decides again from fresh state. Code LEDGER_ERR_PRECONDITION.
 */
export class PreconditionFailedError extends LedgerError {
  constructor(readonly which: 'PRESENT' | 'CHANGED' | 'REPLAYED') {
    super('LEDGER_ERR_PRECONDITION', which === 'PRESENT' ? 'hold guard: the key that had to be absent exists'
      : which === 'CHANGED' ? 'hold guard: the guarded hash changed' : 'hold guard: the sequence number is not above the one consumed');
  }
}

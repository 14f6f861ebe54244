// Public surface of the ledger.
export { Ledger } from './ledger.js';
export type {
  LedgerOptions, UserBalance, PartnerBalance, HoldArgs, HoldResult, ReleaseArgs, ReleaseResult,
  ReloadResult, Transaction, LedgerReason, TxStatus, PartnerType,
} from './ledger.js';
export { LedgerError } from './codes.js';
export { holdExpiresAtMs, holdExpiryDays, type HoldExpiryProgram } from './expiry.js';
export { INTERNAL_TYPES, type InternalType, type PostArgs, type CreditArgs, type PostResult, type ClearArgs, type ClearResult, type JournalEntry } from './ledger.js';

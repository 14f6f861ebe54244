// Public surface of the ledger.
export { Ledger } from './ledger.js';
export * from './types.js';
export type { LedgerReason, TxStatus } from './codes.js';
export type { PartnerType } from './keys.js';
export { LedgerError, PreconditionFailedError } from './codes.js';
export { LedgerAssertionError } from './assert.js';
export { holdExpiresAtMs, holdExpiryDays, type HoldExpiryProgram } from './expiry.js';
export { counterPeriod, COUNTER_TTL_MS, COUNTERS_PER_CALL_MAX } from './counters.js';
export { checkLedger, formatReport, type Report, type CurrencyTotals } from './check.js';

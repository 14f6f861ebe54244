// Decline reasons as the switch uses them: one per transaction, chosen while deciding a message.
// Their wire codes, HTTP statuses and notifier descriptions are rows of the error-code table
// (errors/table.ts); this module adds what only the switch needs: the lock-code and ledger
// mappings.
import { ERRORS, REASON_CODES, type Reason, type WireCodes } from '../errors/index.js';

export { responseCode, notifierDescription, type Dialect, type Reason } from '../errors/index.js';

/** Field 39 of each decline reason per dialect, in table order: a view of the error-code table. */
export const REASONS: Readonly<Record<Reason, WireCodes>> = Object.freeze(
  Object.fromEntries(REASON_CODES.map((r) => [r, ERRORS[r].iso])) as Record<Reason, WireCodes>,
);

/** Card lock codes (seed "Card issuing → Lock") to the reason a debit is declined with. */
export const LOCK_REASONS: Readonly<Record<number, Reason>> = {
  1: 'CARD_LOCK_1_LOST',
  2: 'CARD_LOCK_2_STOLEN',
  3: 'CARD_LOCK_3_PENDING_QUERY',
  4: 'CARD_LOCK_4_CARD_CONSOLIDATION',
  5: 'CARD_LOCK_5_CARD_INACTIVE',
  6: 'CARD_LOCK_6_PIN_TRIES_EXCEEDED',
  7: 'CARD_LOCK_7_SUSPECTED_FRAUD',
  8: 'CARD_LOCK_8_CARD_REPLACED',
  11: 'CARD_LOCK_11_OFFLINE_PIN_TRIES_EXCEEDED',
};

/**
 * A ledger reason (ledger/codes.ts) as a switch reason: AMOUNT_TOO_LARGE (a balance would pass the
 * n12 maximum) is INVALID_AMOUNT (13); ledger-internal ones (TRANSACTION_EXISTS …) are
 * UNKNOWN_ERROR.
 */
export function fromLedger(ledgerReason: string): Reason {
  if (ledgerReason === 'AMOUNT_TOO_LARGE') return 'INVALID_AMOUNT';
  return ledgerReason in REASONS ? (ledgerReason as Reason) : 'UNKNOWN_ERROR';
}

// The one decline-reason table (SPEC §2.4). A transaction gets exactly one reason; the wire code
// for each dialect, the transaction record and (later) the notifier description all come from here.

export type Dialect = '1987' | '2003';

interface ReasonRow { readonly iso1987: string; readonly iso2003: string }

const row = (iso1987: string, iso2003: string): ReasonRow => ({ iso1987, iso2003 });

export const REASONS = {
  APPROVED: row('00', '0000'),
  /** A zero-amount 0100 purchase whose card checks all passed: nothing held or posted (SPEC §2.2). */
  ACCOUNT_VERIFIED: row('85', '0000'),
  CARD_LOCK_1_LOST: row('41', '2008'),
  CARD_LOCK_2_STOLEN: row('43', '2009'),
  CARD_LOCK_3_PENDING_QUERY: row('05', '1000'),
  CARD_LOCK_4_CARD_CONSOLIDATION: row('51', '1016'),
  CARD_LOCK_5_CARD_INACTIVE: row('56', '1018'),
  CARD_LOCK_6_PIN_TRIES_EXCEEDED: row('75', '1006'),
  CARD_LOCK_7_SUSPECTED_FRAUD: row('59', '1002'),
  CARD_LOCK_8_CARD_REPLACED: row('14', '1011'),
  CARD_LOCK_11_OFFLINE_PIN_TRIES_EXCEEDED: row('75', '1006'),
  CARD_NOT_FOUND: row('14', '1011'),
  EXPIRED_CARD: row('54', '1001'),
  INSUFFICIENT_FUNDS: row('51', '1016'),
  INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE: row('05', '1000'),
  INSUFFICIENT_FUNDS_ON_COLLATERAL_BALANCE: row('05', '1000'),
  DEPOSIT_BALANCE_NOT_FOUND: row('05', '1000'),
  COLLATERAL_BALANCE_NOT_FOUND: row('05', '1000'),
  BALANCE_NOT_FOUND: row('05', '1000'),
  CUSTOMER_NOT_FOUND: row('05', '1000'),
  INVALID_AMOUNT: row('13', '1010'),
  EXCEEDS_AMOUNT_LIMIT: row('61', '1021'),
  BUDGET_EXCEEDED: row('61', '1021'),
  LIMIT_EXCEED: row('65', '1023'),
  AML_EXCEPTION: row('62', '1004'),
  CURRENCY_MISMATCH: row('57', '1019'),
  UNKNOWN_TRANSACTION_TYPE: row('12', '1015'),
  FRAUDS_DETECTED: row('59', '1002'),
  LIMITS_EXCEEDED: row('61', '1021'),
  PARTNER_UNAVAILABLE: row('91', '9111'),
  /** The latency budget ran out before the decision; the stand-in rule declined (SPEC §2.5). */
  BUDGET_DEADLINE_PASSED: row('91', '9111'),
  AMBIGUOUS_REFERENCED_TRANSACTION: row('96', '9109'),
  UNKNOWN_ERROR: row('96', '9109'),
  FORMAT_ERROR: row('30', '9104'),
  /** A reversal or authorization that a remembered earlier reversal already cancelled. */
  ALREADY_REVERSED: row('05', '1000'),
} as const satisfies Record<string, ReasonRow>;

export type Reason = keyof typeof REASONS;

export function responseCode(reason: Reason, dialect: Dialect): string {
  const r = REASONS[reason];
  return dialect === '2003' ? r.iso2003 : r.iso1987;
}

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
 * n12 maximum) is INVALID_AMOUNT (13, SPEC §2.2); ledger-internal ones (TRANSACTION_EXISTS …) are
 * UNKNOWN_ERROR.
 */
export function fromLedger(ledgerReason: string): Reason {
  if (ledgerReason === 'AMOUNT_TOO_LARGE') return 'INVALID_AMOUNT';
  return ledgerReason in REASONS ? (ledgerReason as Reason) : 'UNKNOWN_ERROR';
}

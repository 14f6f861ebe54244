// Argument and result types of the ledger API (ledger/ledger.ts), and the posting rules of the
// internal transaction types.
import type { LedgerReason, TxStatus } from './codes.js';
import type { PartnerType } from './keys.js';

/**
 * The largest amount and the largest balance the ledger holds, in minor units: what an ISO 8583
 * n12 field can carry (SPEC §2.2). Amounts above it are refused before Redis is touched
 * (LedgerError LEDGER_ERR_AMOUNT_TOO_LARGE); a write that would take a user balance (available +
 * blocked) or a partner tranche past it is refused by the script with AMOUNT_TOO_LARGE.
 */
export const MAX_AMOUNT_MINOR = 999_999_999_999;

export interface LedgerOptions {
  /**
   * Number of slot groups `{g00}`..`{gNN}` (1..100). Fixed when the ledger's data is first written
   * (stored in `{g00}:meta`); default 1 on a single Redis, 16 on a Cluster.
   */
  groups?: number;
  /** How long an idempotency record is kept; default 8 days (longer than the switch's 48 h duplicate window). */
  idempotencyTtlMs?: number;
  /** Clock for nowMs defaults (tests). */
  now?: () => number;
  /** Holds and debits asked for in one tick go out as one hold-many call per slot group (default true). */
  coalesceDebits?: boolean;
  /**
   * Keep each user balance's list of its transaction ids (`{gNN}:hist:<balanceId>`, read by
   * history()); default true. The switch passes false: its transaction records index every
   * message of a balance (GET /secure/transactions), and no query of it reads the list, so each
   * approval writes one command less. Every process writing one ledger should pass the same; a
   * list written before stays as it was. history() of a ledger opened without it throws
   * LEDGER_ERR_INVALID_ARGUMENT.
   */
  balanceHistory?: boolean;
  /**
   * How long what the switch keeps of a transaction stays in Redis once it has been copied to the
   * history database (docs/ledger.md, "Hot state and history"). Given: stored in `{g00}:meta` for
   * every process opening this ledger (a switch's worker threads read them there). Absent: read
   * from `{g00}:meta`, else DEFAULT_WINDOWS.
   */
  windows?: HistoryWindows;
}

/**
 * The retention windows of hot state in Redis, ms (the switch's REDIS_RETENTION, DUPLICATE_WINDOW,
 * REFERENCE_RETENTION settings).
 */
export interface HistoryWindows {
  /** REDIS_RETENTION: a finished transaction's hash and its records, after they were copied (default 72 h). */
  finishedMs: number;
  /** DUPLICATE_WINDOW: a message's cached answer, for its repeats (default 48 h; ISO 8583 duplicates). */
  duplicateMs: number;
  /** REFERENCE_RETENTION: the indexes a reversal or clearing finds its original by (default 45 days). */
  referenceMs: number;
}

export const DEFAULT_WINDOWS: HistoryWindows = { finishedMs: 72 * 3_600_000, duplicateMs: 48 * 3_600_000, referenceMs: 45 * 86_400_000 };

export interface UserBalance {
  id: string; customerId: string; currency: string; configId: string;
  availableMinor: number; blockedMinor: number;
}

export interface PartnerBalance {
  id: string; type: PartnerType; currency: string; configId: string;
  availableMinor: number; blockedMinor: number;
  /** Available amount of each slot-group tranche, index = group. */
  tranchesAvailableMinor: number[];
}

export interface HoldArgs {
  /**
   * The call's idempotency key: a repeat with the same key gets the first result and moves
   * nothing (a different call under the key: IDEMPOTENCY_CONFLICT). null: the transaction id is
   * the key, and the transaction hash the record: an approval keeps its result in the hash (no
   * separate key, one write less per approval), the same hold or debit asked again for the
   * transaction gets it back as a replay, and a decline, which moved nothing, is not remembered
   * (asked again, it is decided again). The switch's authorizations use null: a repeated message
   * is answered from the duplicate-answer cache before the ledger is asked.
   */
  idempotencyKey: string | null;
  txId: string;
  balanceId: string;
  /** The program's DEPOSIT partner balance, or null for a program without one. */
  depositId: string | null;
  /** Amount the scheme will settle, in the balance currency. */
  amountMinor: number;
  /** Channel fee held with the transaction, posted to the company balance at clearing. */
  feeMinor?: number;
  /** FX fee (margin) held with the transaction, posted to the company balance at clearing. */
  fxFeeMinor?: number;
  /** Company balance receiving the fees; without one fees go to the world account W:income. */
  companyId?: string | null;
  /** Skip the funds checks (0120 advices, forced posts): available may go negative. */
  forced?: boolean;
  /**
   * Check the deposit and the limits but not the user's funds, which a partner holds and decides
   * (EXTERNAL_BALANCE): the user balance records the hold and may go below zero.
   */
  userUnchecked?: boolean;
  expiresAtMs: number;
  nowMs?: number;
  meta?: Record<string, string>;
  /**
   * The card's velocity counters (its daily limits and its controls' velocity limits), checked
   * before the funds inside the hold's own script and counted on approval (forced: counted only,
   * never declined). See VelocityCounters.
   */
  counters?: VelocityCounters;
  /**
   * Another id under which an earlier reversal of this same transaction may be remembered (the
   * original named without field 41): when an ORPHAN_REVERSAL record exists there, the
   * hold/debit is declined ALREADY_REVERSED and moves nothing (as for an orphan under txId itself).
   */
  orphanTxId?: string;
  /**
   * A precondition checked first, in the hold's own script (single-node Redis: its keys are in
   * other slots than the balance's). When it fails nothing is read further or written, and the
   * call rejects with PreconditionFailedError. The switch uses it to decide an authorization in
   * one round trip: the card it decided with must be unchanged and the message not a repeat.
   */
  guard?: HoldGuard;
  /**
   * The caller's record of this message, written by the hold's own script when, and only when, it
   * approves (not on a replay or a decline): one script call per approval instead of two. Its keys
   * must be in the hold's slot group (or the Redis a single node).
   */
  record?: ApprovalRecord;
}

/**
 * HoldArgs.record: one transaction record with its indexes and cached answer, as the switch's
 * record store writes it (stores/records.ts TransactionRecords.approvalRecord builds it; the
 * writes are ledger/lua/includes/record-write.lua's, shared with that store's own script).
 */
export interface ApprovalRecord {
  /** Eight keys: record, balance index, card index, unattributed index, cached answer, two reference indexes (the record's own key = none), the slot group's record log (stream). */
  readonly keys: readonly string[];
  /** Seven values: record bytes, time ms, record id, cached answer bytes, its TTL ms, ledger transaction id, reference TTL ms. */
  readonly args: readonly (string | number | Buffer)[];
  /**
   * True: the script appends to the cached answer, once written, the user balance after the hold
   * as `|<available>|<blocked>` (decimal minor units, `-` when negative), for the caller's replay
   * to render; false: the answer is stored as given.
   */
  readonly appendBalances: boolean;
}

/** HoldArgs.guard: the state a caller decided with, re-checked atomically with the hold. */
export interface HoldGuard {
  /** A hash whose fields must still hold the values the caller decided with (e.g. the card record). */
  hashKey: string;
  /** Field names (no ',' or '|'). */
  fields: readonly string[];
  /** The values the caller saw, in field order ('' for a missing field); none may contain '|' or '\x1f'. */
  expected: readonly string[];
  /** A key that must not exist (e.g. the duplicate-answer cache entry of the message), or null. */
  absentKey: string | null;
  /** A sequence number the hold consumes in the guarded hash (e.g. a chip read's ATC), or absent. */
  sequence?: HoldSequence;
}

/**
 * HoldGuard.sequence: a number that only goes up, kept in two fields of the guarded hash and
 * consumed by the hold in the same script, after the guard and before the funds are looked at, so
 * a replay is refused even when two copies race (EMV Book 2 §6.5.5: the issuer keeps the highest
 * ATC it has seen). The hold is refused (PreconditionFailedError 'REPLAYED', nothing done) unless
 * `value` is above the hash's `field`, or equal to it with `ownerField` holding `owner` (the same
 * transaction decided a second time); otherwise `field` := value and `ownerField` := owner, whatever
 * the funds then decide.
 */
export interface HoldSequence {
  /** The highest number consumed (no ',', '|' or '\x1f'). */
  field: string;
  /** Who consumed it (same rule). */
  ownerField: string;
  /** A non-negative safe integer. */
  value: number;
  /** The consumer's id (no '|' or '\x1f'), e.g. the transaction id. */
  owner: string;
}

/** A counter's window: the UTC day, the ISO week, the month, or the card's whole life. */
export type CounterWindow = 'DAY' | 'WEEK' | 'MONTH' | 'LIFETIME';

/** What a counter counts: purchases (processing codes 00, 09), cash (01), or both. */
export type CounterScope = 'PURCHASE' | 'CASH' | 'ALL';

/**
 * One velocity counter of a card: a limit on what the card may spend in one period of a window
 * (docs/ledger.md, "Velocity counters"). The program's and card's daily limits are counters
 * (`limits.daily`, `limits.atmDaily`), and so is every VELOCITY spend control over a window.
 */
export interface VelocityCounter {
  /** Names the counter's usage: 1-80 characters of A-Z a-z 0-9 . _ : - ; unique within a call. */
  readonly controlId: string;
  readonly window: CounterWindow;
  /** The period of the window the message falls in: counterPeriod(window, nowMs) (`20261207`, `2026W49`, `202612`, `L`). */
  readonly period: string;
  /** Which messages it counts; a counter of another scope than the message's is left out of the call. */
  readonly scope: CounterScope;
  /** At most this many minor units in the period (the amount, fees apart), or null. */
  readonly amountMinor: number | null;
  /** At most this many transactions in the period, or null. */
  readonly count: number | null;
  /** true: over its limit, the hold is declined; false (SHADOW): nothing is declined, the answer names it (wouldDecline). */
  readonly enforced: boolean;
}

/** HoldArgs.counters: a card's velocity counters and the message's own scope. */
export interface VelocityCounters {
  /** The card whose usage is counted, in the balance's slot group. */
  readonly cardId: string;
  /** The message's scope: PURCHASE (processing codes 00, 09) or CASH (01). */
  readonly scope: 'PURCHASE' | 'CASH';
  /**
   * Checked in this order: every amount limit first, then every count limit. An ENFORCED one
   * over its limit declines (amount: EXCEEDS_AMOUNT_LIMIT, count: LIMIT_EXCEED); on approval
   * every counter of the message's scope counts the amount and 1.
   */
  readonly counters: readonly VelocityCounter[];
}

/**
 * The former name of VelocityCounters, from when a card had daily limits only.
 * @deprecated use VelocityCounters.
 */
export type DailyLimits = VelocityCounters;

/** A SHADOW counter over its limit: the counter and the reason it would have declined with. */
export interface WouldDecline {
  readonly controlId: string;
  readonly reason: 'EXCEEDS_AMOUNT_LIMIT' | 'LIMIT_EXCEED';
}

export interface HoldResult {
  approved: boolean;
  reason: LedgerReason;
  replay: boolean;
  status: TxStatus;
  /** User balance after the hold, or the amounts the decline was decided on. */
  availableMinor: number;
  blockedMinor: number;
  /** Deposit tranche after the hold / at the decline (0 without a deposit). */
  depositAvailableMinor: number;
  depositBlockedMinor: number;
  /** True when the deposit tranche was refilled from other tranches before this answer. */
  rebalanced: boolean;
  /**
   * True when HoldArgs.record was written with this approval (false without one, on a decline or
   * a replay, and when a SHADOW counter would have declined: the caller then writes the record
   * itself, with wouldDecline).
   */
  recorded: boolean;
  /**
   * The first SHADOW counter (in check order) that was over its limit, whatever the outcome; null
   * when none was (or the hold was forced: an advice is never checked). A replay answers as the
   * first answer did.
   */
  wouldDecline: WouldDecline | null;
}

/**
 * An incremental authorization (ledger.incrementHold): more money held under an open
 * authorization of the same balance (one transaction, one expiry).
 */
export interface IncrementArgs {
  /** As HoldArgs.idempotencyKey; null: the increment's own transaction hash is the record. */
  idempotencyKey: string | null;
  /** The open authorization (a hold() of this balance) the increment adds to. */
  originalTxId: string;
  /** The increment's own id: a reversal naming it gives back the increment only. */
  incrementTxId: string;
  balanceId: string;
  /** The deposit the original was held against (the increment is held against the same), or null. */
  depositId: string | null;
  amountMinor: number;
  /** Fees of the increment, held with the original and posted with it at clearing. */
  feeMinor?: number;
  fxFeeMinor?: number;
  /** Receives the fees when the original names no company balance yet. */
  companyId?: string | null;
  /** The increment's expiry: the transaction's becomes the later of its own and this. */
  expiresAtMs: number;
  nowMs?: number;
  /** Checked on the increment's amount (amount limits only: an increment is no new transaction) and counted with it. */
  counters?: VelocityCounters;
  /** As HoldArgs.userUnchecked (EXTERNAL_BALANCE). */
  userUnchecked?: boolean;
  meta?: Record<string, string>;
}

/** A completion advice (ledger.replaceHold): an open authorization's hold replaced by a final amount. */
export interface ReplaceArgs {
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  /** The transaction's new amount (> 0): its hold becomes this (less what a partial clearing posted). */
  amountMinor: number;
  nowMs?: number;
}

/** What ledger.replaceHold did. */
export interface ReplaceResult {
  /** APPROVED (replaced now, or a replay). */
  ok: boolean;
  /** APPROVED | TRANSACTION_NOT_FOUND | TRANSACTION_NOT_OPEN | BALANCE_NOT_FOUND | IDEMPOTENCY_CONFLICT. */
  reason: LedgerReason;
  replay: boolean;
  /** The transaction's status after the call (AUTHORIZED when replaced). */
  status: TxStatus;
  /** Held amount released (the new amount below the hold), user side = deposit side, minor units. */
  releasedMinor: number;
  /** Held beyond the hold, forced (the new amount above it; available may go below zero). */
  forcedMinor: number;
  availableMinor: number;
  blockedMinor: number;
  /** The transaction's amount after the call. */
  amountMinor: number;
}

export interface ReleaseArgs {
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  /** Partial reversal: the new final amount (field 95); the difference is released. */
  newAmountMinor?: number;
  /**
   * When the transaction is unknown, leave a REVERSED record (type ORPHAN_REVERSAL) so that the
   * original, if it arrives later, is declined by hold() with ALREADY_REVERSED and holds nothing
   * (SPEC §2.3). Off by default: a caller that runs an original and its reversal concurrently
   * must make sure the original reaches the ledger first, or it is declined.
   */
  rememberOrphan?: boolean;
  nowMs?: number;
}

export interface ReleaseResult {
  ok: boolean;
  reason: LedgerReason;
  replay: boolean;
  status: TxStatus;
  releasedMinor: number;
  depositReleasedMinor: number;
  availableMinor: number;
  blockedMinor: number;
  /** The transaction's authorized amount after this call. */
  amountMinor: number;
}

/** A reversal of any transaction (SPEC §2.3): ledger.reverse(). */
export interface ReverseArgs {
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  /**
   * Partial reversal: the original's new final amount (field 95), 0 <= n <= its amount, in minor
   * units; the difference is given back. Left out (or 0): full reversal.
   */
  newAmountMinor?: number;
  /**
   * Unknown transaction: leave a REVERSED ORPHAN_REVERSAL record under txId so that a late
   * original (hold or debit) is declined ALREADY_REVERSED and holds nothing (as release does).
   */
  rememberOrphan?: boolean;
  /**
   * Not needed any more (kept so that existing callers compile): the transaction records the
   * usage hashes its counters counted in, and the reversal gives back there whether or not a
   * card is named.
   * @deprecated
   */
  cardId?: string;
  nowMs?: number;
}

/** What ledger.reverse() did. */
export interface ReverseResult {
  /** True for APPROVED (something was reversed now) and ALREADY_REVERSED (nothing left to do). */
  ok: boolean;
  /**
   * APPROVED | ALREADY_REVERSED | TRANSACTION_NOT_FOUND | INVALID_AMOUNT (new amount above the
   * amount) | AMOUNT_TOO_LARGE (giving back would take the user balance past MAX_AMOUNT_MINOR) |
   * TRANSACTION_NOT_OPEN (nothing to reverse: a cleared-then-expired or already closed record) |
   * BALANCE_NOT_FOUND | IDEMPOTENCY_CONFLICT.
   */
  reason: LedgerReason;
  replay: boolean;
  /** What this call did: released an open hold, credited back a posted debit, debited back a posted credit, or nothing. */
  effect: 'RELEASED' | 'CREDITED_BACK' | 'DEBITED_BACK' | 'NONE';
  /** User-side money moved by this call (fees included), >= 0, minor units. */
  movedMinor: number;
  /** The original's status after the call. */
  status: TxStatus;
  /** User balance after the call. */
  availableMinor: number;
  blockedMinor: number;
  /** The original's amount after this call (its final amount). */
  amountMinor: number;
}

export interface ReloadResult { ok: boolean; reason: LedgerReason; replay: boolean; balance: PartnerBalance | null }

export type InternalType = 'TOPUP' | 'PAYMENT' | 'LOAN' | 'CASHBACK' | 'FUNDING' | 'WITHDRAWAL' | 'FEE' | 'COMMISSION' | 'INTEREST';

interface PostRule { dir: '+' | '-'; partner: PartnerType | null; world: string; notFound: LedgerReason }

/** The seed's "Transaction Types Description", as postings. */
export const INTERNAL_TYPES: Readonly<Record<InternalType, PostRule>> = {
  TOPUP: { dir: '+', partner: 'CREDIT', world: 'W:external', notFound: 'COLLATERAL_BALANCE_NOT_FOUND' },
  PAYMENT: { dir: '+', partner: 'CREDIT', world: 'W:external', notFound: 'COLLATERAL_BALANCE_NOT_FOUND' },
  LOAN: { dir: '+', partner: 'CREDIT', world: 'W:external', notFound: 'COLLATERAL_BALANCE_NOT_FOUND' },
  CASHBACK: { dir: '+', partner: 'CREDIT', world: 'W:external', notFound: 'COLLATERAL_BALANCE_NOT_FOUND' },
  FUNDING: { dir: '-', partner: 'CREDIT', world: 'W:external', notFound: 'COLLATERAL_BALANCE_NOT_FOUND' },
  FEE: { dir: '-', partner: 'COMPANY', world: 'W:income', notFound: 'COMPANY_BALANCE_NOT_FOUND' },
  WITHDRAWAL: { dir: '-', partner: null, world: 'W:external', notFound: 'PARTNER_BALANCE_NOT_FOUND' },
  COMMISSION: { dir: '-', partner: null, world: 'W:partner', notFound: 'PARTNER_BALANCE_NOT_FOUND' },
  INTEREST: { dir: '-', partner: null, world: 'W:partner', notFound: 'PARTNER_BALANCE_NOT_FOUND' },
};

export interface PostArgs {
  type: InternalType;
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  amountMinor: number;
  /** The CREDIT (TOPUP, PAYMENT, LOAN, CASHBACK, FUNDING) or COMPANY (FEE) partner balance, or null. */
  partnerId: string | null;
  /** Debits only: skip the funds check (available may go negative). */
  forced?: boolean;
  nowMs?: number;
  meta?: Record<string, string>;
}

export interface CreditArgs {
  /** Journal/transaction type; default REFUND. */
  type?: 'REFUND' | 'PAYMENT_CREDIT';
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  amountMinor: number;
  /** The program's DEPOSIT balance, credited back; null for a program without one. */
  depositId: string | null;
  forced?: boolean;
  nowMs?: number;
  meta?: Record<string, string>;
}

export interface PostResult {
  ok: boolean;
  reason: LedgerReason;
  replay: boolean;
  status: TxStatus;
  availableMinor: number;
  blockedMinor: number;
  /** The partner tranche touched (credit, company or deposit), after the posting or at the refusal. */
  partnerAvailableMinor: number;
  rebalanced: boolean;
}

export interface ClearArgs {
  idempotencyKey: string;
  txId: string;
  balanceId: string;
  amountMinor: number;
  /** Default true: the last clearing of this authorization; what is still held is released. */
  final?: boolean;
  nowMs?: number;
}

export interface ClearResult {
  ok: boolean;
  reason: LedgerReason;
  replay: boolean;
  status: TxStatus;
  clearedFromHoldMinor: number;
  /** Part of the clearing above what was held, posted from available (may go negative). */
  forcedMinor: number;
  /** Held amount released because this final clearing was for less. */
  releasedMinor: number;
  feesPostedMinor: number;
  availableMinor: number;
}

/** One journal entry: the postings of one operation (every posting is its own counter-posting: from -> to). */
export interface JournalEntry {
  id: string;
  timeMs: number;
  op: string;
  /** User balance (or partner balance for reloads and transfers) the operation was about. */
  balanceId: string;
  txId: string;
  currency: string;
  postings: { from: string; to: string; amountMinor: number; code: string }[];
  /** The transaction's status after this operation, for operations on a user balance's transaction; null for reloads and transfers. */
  status: TxStatus | null;
  /** Principal given back by the reversal this entry records (0 otherwise). */
  reversedMinor: number;
}

export interface Transaction {
  txId: string;
  balanceId: string;
  type: string;
  status: TxStatus;
  currency: string;
  /** Authorized (or posted) amount, after partial reversals. */
  amountMinor: number;
  /** Still blocked on the user balance for this transaction (amount part, fees apart). */
  heldMinor: number;
  feesHeldMinor: number;
  feeMinor: number;
  fxFeeMinor: number;
  depositHeldMinor: number;
  clearedMinor: number;
  depositId: string | null;
  companyId: string | null;
  expiresAtMs: number;
  createdAtMs: number;
  forced: boolean;
  reversed: boolean;
  /** Minor units given back by reversals (released, credited back or debited back; fees apart). */
  reversedMinor: number;
  /** Type INCREMENT: the authorization it added to (its money is held and reported there); else null. */
  originalTxId: string | null;
  meta: Record<string, string>;
}

/**
 * An exact sum of minor units: a number while it is a safe integer (|n| < 2^53), else its decimal
 * string (sums of many balances may pass 2^53 although each balance is at most MAX_AMOUNT_MINOR).
 */
export type MinorSum = number | string;

/** Per currency totals of ledger.summary(), exact (MinorSum). */
export interface SummaryRow { usersMinor: MinorSum; partnersMinor: MinorSum; walletMinor: MinorSum }

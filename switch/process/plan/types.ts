// What deciding a message needs and yields, as values. A planner (one per message class,
// messages.ts) is a pure function of (request, facts) to a Plan: the message refused with its
// decision, or the intents — which ledger operation with which arguments, whether a partner is
// asked, which original to look for — that the executor (run/run.ts) performs. The executor
// reports what came of them as an outcome, and a pure conclusion (conclude.ts) turns plan and
// outcome into the one Decision the answer, the record and the feed event are rendered from.
// jPOS's TransactionManager separates `prepare` from `commit` the same way; here nothing a
// planner or a conclusion does touches Redis, a partner or a clock.
import type { CardRecord } from '../../../stores/cards.js';
import type { Program } from '../../../stores/programs.js';
import type { LedgerReason, VelocityCounters, WouldDecline } from '../../../ledger/index.js';
import type { ControlHit } from './controls.js';
import type { ProcessingCode, TxKind } from '../../../iso/processing.js';
import type { Reason } from '../../../iso/reasons.js';
import type { Decision, FieldFault, PartnerCallTiming } from '../decision.js';
import type { Priced } from './pricing.js';
import type { RunInput } from '../../../cardauth/run.js';

/**
 * The state a planner reads, gathered by the executor before planning (run/facts.ts): the card
 * the message names (null: none, or field 2 absent), its program, the program's partner balances
 * in the card's currency, and the clock. Nothing else is read while planning.
 */
export interface Facts {
  readonly card: CardRecord | null;
  /** The card's program (undefined: the card names a program no longer configured). */
  readonly program: Program | undefined;
  /** The program's DEPOSIT partner balance in the card's currency, or null. */
  readonly depositId: string | null;
  /** The program's COMPANY partner balance in the card's currency (receives fees), or null. */
  readonly companyId: string | null;
  /** Epoch ms the decision is taken at. */
  readonly nowMs: number;
}

/** A money message that passed its checks: everything its ledger call and its record need. */
export interface Checked {
  readonly kind: TxKind;
  readonly pc: ProcessingCode;
  readonly card: CardRecord;
  readonly program: Program;
  /** ISO 4217 numeric of the card's balance currency (field 54). */
  readonly currencyN3: string;
  readonly depositId: string | null;
  /** This message's own ledger transaction id (iso/wire.ts transactionId). */
  readonly txId: string;
  /**
   * The same transaction named without field 41, when the message has one: a reversal that came
   * first without field 41 is remembered under this id (keyed by what field 90 names).
   */
  readonly orphanTxId: string | undefined;
  /** In the balance's currency (converted when field 49 differs), fees apart. */
  readonly amountMinor: number;
  /** Debits and credits: the amount, fees and FX; null for an inquiry or an account verification. */
  readonly priced: Priced | null;
  /** The COMPANY partner balance receiving fees, or null (fees then go to the ledger's income account). */
  readonly companyId: string | null;
  /**
   * Debit requests: the card's velocity counters for the ledger to check and count inside the
   * hold — the card's and program's daily limits, and their VELOCITY spend controls over a window.
   */
  readonly limits: VelocityCounters | undefined;
  /** A SHADOW spend control's list rule (or a transaction's amount) that would have declined this message, else null. */
  readonly wouldDecline: ControlHit | null;
  /** Field 18, for the per-MCC hold expiry. */
  readonly mcc: string | undefined;
  /** A zero-amount 0100 purchase: verify the card, move nothing. */
  readonly accountVerification: boolean;
  readonly nowMs: number;
  /** When the deciding thread took the message: its latency budget counts from here. */
  readonly startedMs: number;
  /**
   * The card and cardholder authentication to run before any money moves or any partner is asked
   * (cardauth/verify.ts: which checks, in order; the executor runs them through the key store),
   * or null when the message carries no card data to verify and needs none.
   */
  readonly verify: CardVerification | null;
  /** 48.61: the terminal accepts a partial approval. */
  readonly partialAccepted: boolean;
  /**
   * An incremental authorization: the transaction id of the authorization (original MTI 0100)
   * its field 90 names, whose hold it adds to; null for any other message.
   */
  readonly incrementOf: string | null;
}

/** A verification plan and what its run needs of the message and the card (cardauth/run.ts RunInput, but `fresh`). */
export type CardVerification = Omit<RunInput, 'fresh'>;

/** A message refused before any effect, with what was learned on the way (for its record). */
export interface Refused {
  readonly reason: Reason;
  /** For FORMAT_ERROR: the field at fault and the problem. */
  readonly fault: FieldFault | null;
  /** What failed, for a card-data refusal (never the datum); null otherwise. */
  readonly detail: string | null;
  readonly card: CardRecord | null;
  readonly txId: string | null;
  readonly amountMinor: number;
  readonly priced: Priced | null;
}

/** How a 0100 or 0200 debit takes the money: held until clearing, or posted at once. */
export type Posting = 'HOLD' | 'POST';

/** What a reversal is about: its card, its own transaction id and field 95's new final amount (0: full). */
export interface ReversalSubject {
  readonly card: CardRecord;
  readonly program: Program | undefined;
  readonly txId: string | null;
  readonly newAmountMinor: number;
  readonly nowMs: number;
  readonly startedMs: number;
}

/**
 * The intents of one message. `ANSWER`: decided without any effect (refused, network management,
 * account verification, a refund's or inquiry's answer that reads nothing). Every other op names
 * one ledger operation the executor performs, with the partner calls the program's mode implies.
 */
export type Plan =
  | { readonly op: 'ANSWER'; readonly decision: Decision }
  /** A zero-amount 0100 purchase whose card checks passed: its card data verified, nothing held (85). */
  | { readonly op: 'ACCOUNT_VERIFICATION'; readonly c: Checked }
  /**
   * 0100/0200 debit: the partner's `debit` by mode, then a deposit-then-user hold or post within
   * the budget. `partial`: a purchase at a terminal that accepts a partial approval (48.61), in
   * the balance's own currency: when the funds cannot cover it in full it is approved for what
   * they cover.
   */
  | { readonly op: 'DEBIT'; readonly c: Checked; readonly posting: Posting; readonly partial: boolean }
  /** 0100 payment credit, 0200 refund or payment credit: the partner's `credit` by mode, then posted at once. */
  | { readonly op: 'CREDIT'; readonly c: Checked; readonly idempotencyKey: string }
  /** Balance inquiry, a refund's 0100: approved with field 54 read (from the partner in EXTERNAL_BALANCE). */
  | { readonly op: 'BALANCE'; readonly c: Checked }
  /**
   * 0120 debit: a forced hold, reported to the partner as a force-debit; `completes`: the
   * authorization its field 90 names (original MTI 0100), whose hold it replaces when that is
   * still open (a completion advice).
   */
  | { readonly op: 'FORCE_HOLD'; readonly c: Checked; readonly completes: string | null }
  /** 0120 or 0220 payment credit: posted at once, reported as a force-credit. */
  | { readonly op: 'ADVICE_CREDIT'; readonly c: Checked; readonly idempotencyKey: string }
  /** 0220 debit: the clearing of the original it names, else a forced post. */
  | { readonly op: 'CLEAR'; readonly c: Checked }
  /** 0220 refund: credited under the refund authorization's id (`originalTxId`, from field 90), else its own. */
  | { readonly op: 'REFUND_CLEAR'; readonly c: Checked; readonly originalTxId: string | null }
  /** 0400/0420: the original found and reversed, in full or down to field 95. */
  | { readonly op: 'REVERSE'; readonly r: ReversalSubject };

/** How a budgeted ledger call of a debit ended (run/budget.ts). */
export type LedgerOutcome =
  | {
    readonly kind: 'decided'; readonly approved: boolean; readonly reason: LedgerReason;
    readonly availableMinor: number; readonly blockedMinor: number;
    /** The deposit tranche's available amount after the call, or at the decline (0 without a deposit). */
    readonly depositAvailableMinor: number;
    /** The hold wrote the message's record and cached answer with the approval (HoldArgs.record). */
    readonly recorded: boolean; readonly scriptSeconds: number;
    /** A SHADOW velocity counter over its limit (it declined nothing), else null. */
    readonly wouldDecline: WouldDecline | null;
    /** The amount was added to the original's hold (an incremental authorization, Checked.incrementOf). */
    readonly incremented?: boolean;
  }
  | { readonly kind: 'standInApproved' }
  | { readonly kind: 'standInDeclined' };

/** What a partner said about a debit or credit asked within the budget (run/partner.ts). */
export interface PartnerOutcome {
  readonly approved: boolean;
  /** The decline reason when not approved. */
  readonly reason: Reason;
  /** False: no answer the switch can act on (timeout, unreachable, 5xx, malformed, breaker open). */
  readonly answered: boolean;
  readonly timing: PartnerCallTiming;
}

/**
 * What came of a DEBIT plan: the ledger's part (null when it was not asked: the partner refused
 * first) and the partner's (null for an INTERNAL program). `standIn`: the program's stand-in rule
 * approved after the partner gave no answer.
 */
export interface DebitOutcome {
  /**
   * A partial approval: the amount the message asked for, the checked message concluded on (and
   * held or posted) being for less; undefined otherwise.
   */
  readonly requestedMinor?: number;
  readonly local: LedgerOutcome | null;
  readonly partner: PartnerOutcome | null;
  readonly partnerStandIn: boolean;
}

/** What came of a CREDIT plan. */
export interface CreditOutcome {
  /** Null when the partner refused first. */
  readonly local: { readonly ok: boolean; readonly reason: LedgerReason; readonly availableMinor: number; readonly blockedMinor: number } | null;
  readonly partner: PartnerOutcome | null;
}

/** What came of a BALANCE plan: the balance read, or why it could not be. */
export type BalanceOutcome =
  | { readonly ok: true; readonly availableMinor: number; readonly blockedMinor: number }
  | { readonly ok: false; readonly reason: Reason };

/** What came of an advice's posting (FORCE_HOLD, ADVICE_CREDIT, REFUND_CLEAR). */
export interface PostedOutcome { readonly ok: boolean; readonly reason: LedgerReason }

/** What came of a CLEAR plan: the original cleared, or a forced post (ambiguous: several candidates). */
export type ClearOutcome =
  | { readonly cleared: true; readonly originalTxId: string; readonly fromHoldMinor: number; readonly forcedMinor: number; readonly releasedMinor: number }
  | { readonly cleared: false; readonly ambiguous: boolean };

/** What came of a REVERSE plan. */
export type ReverseOutcome =
  | { readonly found: true; readonly originalTxId: string; readonly movedMinor: number; readonly refusal: Reason | null; readonly debitedBack: boolean }
  | { readonly found: false; readonly ambiguous: boolean; readonly named: string | null };

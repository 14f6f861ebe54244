// A decision is a value. Each message ends in one Decision (plan/conclude.ts makes it from the
// message's plan and what came of it); render.ts turns that value into the wire answer, the
// transaction record, the live-feed event and the metrics. Nothing writes into the decoded
// message on its way through (jPOS participants return PREPARED/ABORTED the same way;
// TigerBeetle returns one result per event of a batch).
import type { IsoMessage } from '../../iso/codec.js';
import type { CardRecord } from '../../stores/cards.js';
import type { Reason } from '../../iso/reasons.js';
import type { Priced } from './plan/pricing.js';
import type { ProcessingCode } from '../../iso/processing.js';
import { authorizationId } from '../../iso/wire.js';
import type { IssuerAuthentication } from '../../cardauth/keys.js';

export type ProcessingStatus = 'SUCCESS' | 'DECLINED' | 'INVALID';
/** Status of the transaction the message created or acted on (seed transaction object `status`). */
export type RecordStatus = 'AUTHORIZED' | 'CLEARED' | 'REVERSED';

export type MessageKind = 'AUTHORIZATION' | 'AUTHORIZATION_ADVICE' | 'FINANCIAL' | 'FINANCIAL_ADVICE' | 'REVERSAL' | 'REVERSAL_ADVICE' | 'NETWORK';

/** A message class (a row of the table in messages.ts, without its planner). */
export interface MessageClass {
  readonly requestMti: string;
  readonly responseMti: string;
  /** The MTI this one repeats (0101 → 0100), or null for an original. */
  readonly repeatOf: string | null;
  readonly kind: MessageKind;
  /** Reports what already happened: answered 00 whatever the outcome. */
  readonly advice: boolean;
  /** Gets a transaction record and a duplicate-answer entry (network management does not). */
  readonly recorded: boolean;
  /** Status of the transaction an accepted message of this class leaves (before the processing code says otherwise). */
  readonly status: RecordStatus;
}

/** One decoded request as the planners see it: read-only data, nothing to call. */
export interface Request {
  readonly msg: IsoMessage;
  /** Its row of the message-class table (messages.ts). */
  readonly cls: MessageClass;
  /** Its row of the processing-code table, or undefined (field 3 absent or unknown). */
  readonly pc: ProcessingCode | undefined;
  /** When the deciding thread took the message (its batch): the latency budget counts from here. */
  readonly takenMs: number;
}

/** What the ledger was asked to do for the message, and what came of it. */
export type LedgerEffect =
  | { readonly op: 'NONE' }
  | {
    readonly op: 'HOLD' | 'POST'; readonly forced: boolean; readonly standIn: boolean; readonly approved: boolean;
    /** The hold wrote the message's record and cached answer with the approval (HoldArgs.record). */
    readonly recorded?: boolean;
  }
  | { readonly op: 'CREDIT'; readonly approved: boolean }
  | { readonly op: 'CLEAR' | 'REVERSE'; readonly originalTxId: string };

/** Field 54 after a decision: ledger (available + blocked) and available, in the balance's currency. */
export interface BalanceAfter { readonly currencyN3: string; readonly availableMinor: number; readonly blockedMinor: number }

/** Everything the answer, the record, the feed event and the metrics of one message are rendered from. */
export interface Decision {
  /** The one reason (SPEC §2.4), APPROVED when approved. */
  readonly reason: Reason;
  /** SUCCESS (approved, or acknowledged and posted), DECLINED, or INVALID (could not be processed). */
  readonly processing: ProcessingStatus;
  /** Advices are answered APPROVED whatever the reason (SPEC §2.4): they report what already happened. */
  readonly acknowledged: boolean;
  readonly card: CardRecord | null;
  /** The ledger transaction this message created or acted on (wire.ts transactionId), null when it cannot be formed. */
  readonly txId: string | null;
  /** For a reversal or clearing: the original's ledger transaction id. */
  readonly referenceTxId: string | null;
  readonly status: RecordStatus;
  /** Seed transaction type (POS, ATM, Cashback, Refund, Payment, Adjustment, Balance Inquiry, ACCOUNT_VERIFICATION). */
  readonly type: string;
  readonly category: 'DEBIT' | 'CREDIT';
  /** Amount of the transaction in the balance's currency (as asked for when declined; field 4 when it could not be priced; 0 when absent). */
  readonly amountMinor: number;
  readonly priced: Priced | null;
  /** Field 38 of an approval (a function of the transaction id), else null. */
  readonly authorizationId: string | null;
  /** Field 54, when the balance is known. */
  readonly balance: BalanceAfter | null;
  readonly ledger: LedgerEffect;
  /** Seconds the hold / debit script took as seen by the deciding thread, or null when none was made. */
  readonly scriptSeconds: number | null;
  /** An approved original that a later reversal or clearing may find by PAN + field 37 or by field 90 without field 41. */
  readonly original: boolean;
  /** The partner call made within the budget (partner modes), for the main thread's partner metrics; null when none. */
  readonly partnerCall: PartnerCallTiming | null;
  /** A format error (30): the field at fault and what is wrong with it (never its content), else null. */
  readonly fault: FieldFault | null;
  /** A partial approval (PARTIAL_APPROVAL): the amount approved and the amount asked for, else null. */
  readonly partial: { readonly approvedMinor: number; readonly requestedMinor: number } | null;
  /** A SHADOW spend control that would have declined this message (it declined nothing), else null. */
  readonly wouldDecline: { readonly controlId: string; readonly reason: string } | null;
  /** What failed in a SECURITY_VIOLATION / INCORRECT_PIN / PIN_REQUIRED decline (CVV2, ARQC, ATC, TRACK …; never the datum), else null. */
  readonly reasonDetail: string | null;
  /** Set when the message's ARQC verified: its answer carries field 55 tag 91 (ARPC ‖ ARC), whatever the reason. */
  readonly issuerAuth: IssuerAuthentication | null;
}

/** The field a format error (30) is about, and the problem, safe to log (it never quotes content). */
export interface FieldFault { readonly field: number; readonly problem: string }

/** One partner call of the decision path: which program, endpoint, its outcome (ok, DECLINED, TIMEOUT …) and its seconds. */
export interface PartnerCallTiming { readonly partner: string; readonly endpoint: 'debit' | 'credit'; readonly outcome: string; readonly seconds: number }

const NO_LEDGER: LedgerEffect = Object.freeze({ op: 'NONE' });

/** An approval: in full, in part (PARTIAL_APPROVAL, 10), or an account verified (85). */
export function isApproval(reason: Reason): boolean {
  return reason === 'APPROVED' || reason === 'PARTIAL_APPROVAL' || reason === 'ACCOUNT_VERIFIED';
}

/** Processing status of a reason on a request: APPROVED (and ACCOUNT_VERIFIED) succeed, format faults are INVALID, the rest DECLINED. */
export function processingOf(reason: Reason): ProcessingStatus {
  if (isApproval(reason)) return 'SUCCESS';
  return reason === 'FORMAT_ERROR' || reason === 'UNKNOWN_TRANSACTION_TYPE' ? 'INVALID' : 'DECLINED';
}

/**
 * A decision for `req` with the defaults its message class and processing code imply (type,
 * category, status; the processing status from the reason — an advice that could not be posted is
 * INVALID; field 38 on an approved 0100/0200, a function of the transaction id so a repeat gets
 * the same one); `d` sets the rest.
 */
export function decide(req: Request, d: Partial<Decision> & { readonly reason: Reason }): Decision {
  const pc = req.pc;
  const advice = req.cls.advice;
  const approved = isApproval(d.reason);
  const authorizes = !advice && (req.cls.kind === 'AUTHORIZATION' || req.cls.kind === 'FINANCIAL');
  const txId = d.txId ?? null;
  return {
    processing: advice && !approved ? 'INVALID' : processingOf(d.reason),
    acknowledged: advice,
    authorizationId: approved && authorizes && txId !== null ? authorizationId(txId) : null,
    card: null,
    txId: null,
    referenceTxId: null,
    status: req.cls.status,
    type: pc?.type ?? 'UNKNOWN',
    category: pc?.category ?? 'DEBIT',
    amountMinor: 0,
    priced: null,
    balance: null,
    ledger: NO_LEDGER,
    scriptSeconds: null,
    original: false,
    partnerCall: null,
    fault: null,
    wouldDecline: null,
    partial: null,
    reasonDetail: null,
    issuerAuth: null,
    ...d,
  };
}

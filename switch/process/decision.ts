// A decision is a value. Each handler (authorize.ts, financial.ts, advice.ts, reverse.ts,
// network.ts) reads one request and returns one Decision; render.ts turns that value into the
// wire answer, the transaction record, the live-feed event and the metrics. Nothing writes into
// the decoded message on its way through (jPOS participants return PREPARED/ABORTED the same way;
// TigerBeetle returns one result per event of a batch).
import type { ApprovalRecord, HoldGuard } from '../../ledger/index.js';
import type { IsoMessage } from '../../iso/codec.js';
import type { CardRecord } from '../../stores/cards.js';
import type { Reason } from '../../iso/reasons.js';
import type { Priced } from './pricing.js';
import type { BatchDeadlines } from './deadline.js';
import type { MessageClass } from './messages.js';
import type { ProcessingCode } from '../../iso/processing.js';
import { authorizationId } from '../../iso/wire.js';
import type { IssuerAuthentication } from '../../cardauth/keys.js';

export type ProcessingStatus = 'SUCCESS' | 'DECLINED' | 'INVALID';
/** Status of the transaction the message created or acted on (seed transaction object `status`). */
export type RecordStatus = 'AUTHORIZED' | 'CLEARED' | 'REVERSED';

/** One decoded request as the handlers see it: read-only. */
export interface Request {
  readonly msg: IsoMessage;
  /** Its row of the message-class table (messages.ts). */
  readonly cls: MessageClass;
  /** Its row of the processing-code table, or undefined (field 3 absent or unknown). */
  readonly pc: ProcessingCode | undefined;
  /** When the deciding thread took the message (its batch): the latency budget counts from here. */
  readonly takenMs: number;
  /** The batch's shared deadline timers (deadline.ts). */
  readonly deadlines: BatchDeadlines;
  /** The card lookup, started with the batch's duplicate lookups so both share one round trip (null: no field 2). */
  readonly card: Promise<CardRecord | null> | null;
  /**
   * Set when the card came from this thread's memory (CardStore.seen) instead of Redis: the hold
   * re-checks, in its own script, that the card is unchanged and that the message is no repeat
   * (its duplicate-answer key absent), so the authorization takes one round trip. When the guard
   * fails nothing was done and the batch decides the message again the usual way (batch.ts).
   */
  readonly guard?: HoldGuard;
  /**
   * Set with `guard` (batch.ts): renders `approved`, the decision the message gets if its debit is
   * approved (field 54 with zero balances), into its record and cached answer, for the hold to
   * write in its own script when it approves (HoldArgs.record: the approval costs one script
   * call, not two). Undefined when the answer cannot carry the balances the hold fills in, or
   * the cached answer lives in another slot group.
   */
  readonly recordApproval?: (approved: Decision) => ApprovalRecord | undefined;
}

/** What the ledger was asked to do for the message, and what came of it. */
export type LedgerEffect =
  | { readonly op: 'NONE' }
  | {
    readonly op: 'HOLD' | 'POST'; readonly forced: boolean; readonly standIn: boolean; readonly approved: boolean;
    /** The hold wrote the message's record and cached answer with the approval (Request.recordApproval). */
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
  /** What failed in a SECURITY_VIOLATION / INCORRECT_PIN / PIN_REQUIRED decline (CVV2, ARQC, ATC, TRACK …; never the datum), else null. */
  readonly reasonDetail: string | null;
  /** Set when the message's ARQC verified: its answer carries field 55 tag 91 (ARPC ‖ ARC), whatever the reason. */
  readonly issuerAuth: IssuerAuthentication | null;
}

/** One partner call of the decision path: which program, endpoint, its outcome (ok, DECLINED, TIMEOUT …) and its seconds. */
export interface PartnerCallTiming { readonly partner: string; readonly endpoint: 'debit' | 'credit'; readonly outcome: string; readonly seconds: number }

const NO_LEDGER: LedgerEffect = Object.freeze({ op: 'NONE' });

/** Processing status of a reason on a request: APPROVED (and ACCOUNT_VERIFIED) succeed, format faults are INVALID, the rest DECLINED. */
export function processingOf(reason: Reason): ProcessingStatus {
  if (reason === 'APPROVED' || reason === 'ACCOUNT_VERIFIED') return 'SUCCESS';
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
  const approved = d.reason === 'APPROVED' || d.reason === 'ACCOUNT_VERIFIED';
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
    reasonDetail: null,
    issuerAuth: null,
    ...d,
  };
}

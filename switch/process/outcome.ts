// What deciding one message found out, beside its answer: the one reason, the card, the ledger
// transaction and the amounts. The deciding code fills it in as it goes; batch.ts turns it into
// the transaction record (switch/records.ts) and the live-feed event once the answer is built.
import type { IsoMessage } from '../iso/codec.js';
import type { CardRecord } from '../cards.js';
import type { Reason } from '../reasons.js';
import type { Priced } from './pricing.js';
import type { BatchDeadlines } from './deadline.js';

export type ProcessingStatus = 'SUCCESS' | 'DECLINED' | 'INVALID';
export type RecordStatus = 'AUTHORIZED' | 'CLEARED' | 'REVERSED';

export interface Outcome {
  reason: Reason;
  /** SUCCESS (approved or acknowledged and posted), DECLINED, or INVALID (could not be processed). */
  processing: ProcessingStatus;
  card: CardRecord | null;
  /** The ledger transaction this message created or acted on (wire.ts transactionId). */
  txId: string | null;
  /** For a reversal or clearing: the original's ledger transaction id. */
  referenceTxId: string | null;
  /** Transaction status the message leaves behind (AUTHORIZED for a hold, CLEARED for a post …). */
  status: RecordStatus;
  category: 'DEBIT' | 'CREDIT';
  /** Seed transaction type: POS, ATM, Cashback, Payment, Refund, Adjustment, Balance Inquiry. */
  type: string;
  /** Amount moved, in the balance's currency (null when nothing was priced). */
  amountMinor: number | null;
  priced: Priced | null;
  /** Seconds the money call (hold / debit script) took as seen by the worker, or null when none was made. */
  scriptSeconds: number | null;
}

/** A decoded request on its way through the deciding code, with its outcome being filled in. */
export interface Inbound extends IsoMessage {
  o: Outcome;
  /** When the deciding thread took the message (its batch): the latency budget counts from here. */
  takenMs: number;
  /** The batch's shared deadline timers (deadline.ts). */
  deadlines: BatchDeadlines;
  /** The card lookup, started together with the duplicate lookup so both share one round trip. */
  cardLookup: Promise<CardRecord | null> | null;
}

type Kind = { readonly type: string; readonly category: 'DEBIT' | 'CREDIT' };
const UNKNOWN_KIND: Kind = { type: 'UNKNOWN', category: 'DEBIT' };
/** Seed transaction type and category by processing code (field 3, first two digits; SPEC §2.2). */
const KINDS: ReadonlyMap<string, Kind> = new Map([
  ['00', { type: 'POS', category: 'DEBIT' }], ['01', { type: 'ATM', category: 'DEBIT' }],
  ['09', { type: 'Cashback', category: 'DEBIT' }], ['20', { type: 'Refund', category: 'CREDIT' }],
  ['28', { type: 'Payment', category: 'CREDIT' }], ['30', { type: 'Balance Inquiry', category: 'DEBIT' }],
]);

/** A fresh outcome for a request with this processing code (a reversal overrides type and category). */
export function newOutcome(proc: string | undefined): Outcome {
  const k = (proc === undefined ? undefined : KINDS.get(proc.slice(0, 2))) ?? UNKNOWN_KIND;
  return {
    reason: 'APPROVED', processing: 'SUCCESS', card: null, txId: null, referenceTxId: null,
    status: 'AUTHORIZED', category: k.category, type: k.type, amountMinor: null, priced: null, scriptSeconds: null,
  };
}

// What deciding one message found out, beside its answer: the one reason, the card, the ledger
// transaction and the amounts. The deciding code fills it in as it goes; batch.ts turns it into
// the transaction record (switch/records.ts) and the live-feed event once the answer is built.
import type { IsoMessage } from '../iso/codec.js';
import type { CardRecord } from '../cards.js';
import type { Reason } from '../reasons.js';
import type { Priced } from './pricing.js';

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
  /** The card lookup, started together with the duplicate lookup so both share one round trip. */
  cardLookup: Promise<CardRecord | null> | null;
}

export function newOutcome(): Outcome {
  return {
    reason: 'APPROVED', processing: 'SUCCESS', card: null, txId: null, referenceTxId: null,
    status: 'AUTHORIZED', category: 'DEBIT', type: 'UNKNOWN', amountMinor: null, priced: null, scriptSeconds: null,
  };
}

/** Seed transaction type and category from the processing code (SPEC §2.2). */
export function typeOf(proc: string | undefined): { type: string; category: 'DEBIT' | 'CREDIT' } {
  switch (proc?.slice(0, 2)) {
    case '00': return { type: 'POS', category: 'DEBIT' };
    case '01': return { type: 'ATM', category: 'DEBIT' };
    case '09': return { type: 'Cashback', category: 'DEBIT' };
    case '20': return { type: 'Refund', category: 'CREDIT' };
    case '28': return { type: 'Payment', category: 'CREDIT' };
    case '30': return { type: 'Balance Inquiry', category: 'DEBIT' };
    default: return { type: 'UNKNOWN', category: 'DEBIT' };
  }
}

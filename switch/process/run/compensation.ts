// Undoing a money-moving request whose answer was not 00 although the ledger may have moved money
// for it (SPEC §3 invariant 3): after a deadline (budget.ts), after a failed ledger call, and for
// every 0100/0200 debit of a batch that failed as a whole (a worker died; the main thread answered
// it 96 and calls undoRequest). The undo is one ledger reversal that remembers the transaction as
// reversed (so a hold landing later is refused), releases a hold that landed, and credits back a
// debit that was posted at once (0200); it has one idempotency key, so running it twice changes
// nothing; a 96 also forgets the record and cached answer a hold may have written with its
// approval (stores/records.ts forgetApproval). Steps are retried with backoff while Redis is unreachable, at
// most COMPENSATION_ATTEMPTS_MAX times and COMPENSATION_PENDING_MAX at once per thread; one that
// gives up is logged and left to the hold-expiry sweeper. A stop drains the queue first
// (drainCompensations, bounded). The queue is in memory: a crash of the thread holding it leaves
// its holds to the sweeper too, and a posted 0200 posted (next: a durable undo).
import { log as processLog } from '../../../log/index.js';
import { messagePan } from '../../../cardauth/fields.js';
import type { Ledger } from '../../../ledger/index.js';
import type { CardStore } from '../../../stores/cards.js';
import type { IsoFields } from '../../../iso/codec.js';
import { kindOf } from '../../../iso/processing.js';
import { mtiClass, ownTransactionId, text } from '../../../iso/wire.js';
import { messageDuplicateKey, recordIdOf, type TransactionRecords } from '../../../stores/records.js';

export const COMPENSATION_ATTEMPTS_MAX = 60;
export const COMPENSATION_PENDING_MAX = 10_000;
const COMPENSATION_BACKOFF_MS = [100, 250, 500, 1000, 2000];

/**
 * Undoes a debit whose answer was not 00: the ledger's `reverse` releases its hold or credits back
 * what was posted (fees included), or, when the debit has not landed (yet), remembers the
 * transaction as reversed so that a late hold or post moves nothing. One idempotency key: running
 * it twice changes nothing. `cardId` gives back the card's daily-limit usage.
 */
export async function undoTransaction(ledger: Ledger, balanceId: string, txId: string, cardId: string | undefined): Promise<void> {
  await ledger.reverse({ idempotencyKey: `undo:${txId}`, txId, balanceId, rememberOrphan: true, ...(cardId === undefined ? {} : { cardId }) });
}

/**
 * Undoes an 0100/0200 debit from its wire fields alone (the card is looked up by PAN): for the
 * requests of a batch that failed as a whole. Anything else (credits, advices, reversals) is left
 * as it is: credits and advices are not declined by a failure of the switch's own.
 */
export async function undoRequest(ledger: Ledger, cards: CardStore, mti: string, f: IsoFields, records?: AnswerCache): Promise<boolean> {
  const cls = mtiClass(mti);
  if ((cls !== '010' && cls !== '020') || kindOf(text(f, 3)) !== 'DEBIT') return false;
  const pan = messagePan(f);
  if (pan === undefined || text(f, 7) === undefined || text(f, 11) === undefined) return false;
  const card = await cards.findByPan(pan);
  if (card === null) return false;
  await undoTransaction(ledger, card.balanceId, ownTransactionId(card.id, mti, f)!, card.id);
  const dk = records === undefined ? null : messageDuplicateKey(records.panIndexKey, mti, f, pan);
  if (records !== undefined && dk !== null) {
    // Its hold may have written the approval's record and cached answer (HoldArgs.record): the
    // answer was 96, so a repeat must be decided again, not answered 00 from the cache.
    await records.store.forgetApproval(dk, card.balanceId, recordIdOf(dk));
  }
  return true;
}

/** Where undoRequest forgets a cached answer: the record store and the key its duplicate keys are HMACs under. */
export interface AnswerCache { store: TransactionRecords; panIndexKey: Buffer }

/** While a stop drains the queue (drainCompensations), a failed step is tried again after this pause. */
const DRAIN_RETRY_MS = 50;

let pending = 0;
/** Steps waiting for their next attempt: a drain runs them at once. */
const waiting = new Map<NodeJS.Timeout, () => void>();
let draining = false;

/** Runs a compensation step now and again with backoff until it succeeds or gives up. */
export function compensate(step: () => Promise<unknown>, attempt = 0): void {
  if (attempt === 0) {
    if (pending >= COMPENSATION_PENDING_MAX) {
      log('compensation queue full: left to the hold-expiry sweeper');
      return;
    }
    pending++;
  }
  step().then(() => { pending--; }, () => {
    if (attempt + 1 >= COMPENSATION_ATTEMPTS_MAX) {
      pending--;
      log('compensation gave up: left to the hold-expiry sweeper');
      return;
    }
    const wait = draining ? DRAIN_RETRY_MS : COMPENSATION_BACKOFF_MS[Math.min(attempt, COMPENSATION_BACKOFF_MS.length - 1)]!;
    const next = (): void => { waiting.delete(timer); compensate(step, attempt + 1); };
    const timer = setTimeout(next, wait);
    timer.unref();
    waiting.set(timer, next);
  });
}

/** Compensation steps not yet done (running or waiting for their next attempt) on this thread. */
export function compensationsPending(): number {
  return pending;
}

/**
 * For a stop: runs the waiting steps at once and keeps retrying every DRAIN_RETRY_MS until none is
 * pending or `timeoutMs` has passed, so that an undo does not die with the process while Redis is
 * there to take it. Resolves with the number still pending (0: all done).
 */
export async function drainCompensations(timeoutMs: number): Promise<number> {
  draining = true;
  try {
    for (const [timer, next] of [...waiting]) { clearTimeout(timer); next(); }
    const until = Date.now() + timeoutMs;
    while (pending > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    return pending;
  } finally {
    draining = false;
  }
}

function log(msg: string): void {
  processLog('error', msg, { code: 'SW_ERR_COMPENSATION' });
}

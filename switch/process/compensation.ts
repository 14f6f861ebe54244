// Undoing a money-moving request whose answer was not 00 although the ledger may have moved money
// for it (SPEC §3 invariant 3): after a deadline (deadline.ts), after a failed ledger call, and for
// every 0100/0200 debit of a batch that failed as a whole (a worker died; the main thread answered
// it 96 and calls undoRequest). The undo is a release that remembers the transaction as reversed
// (so a hold landing later is refused, one that landed is released) and, for a debit that was
// posted at once (0200), a credit of what was posted. Each step has its own idempotency key, so
// running it twice changes nothing. Steps are retried with backoff while Redis is unreachable, at
// most COMPENSATION_ATTEMPTS_MAX times and COMPENSATION_PENDING_MAX at once per thread; one that
// gives up is logged and left to the hold-expiry sweeper. The queue is in memory: a crash of the
// thread holding it leaves its holds to the sweeper too (the durable outbox of the adapters will
// carry compensations).
import type { Ledger } from '../../ledger/index.js';
import type { CardStore } from '../cards.js';
import type { IsoFields } from '../iso/codec.js';
import { kindOf } from './processing.js';
import { text, transactionId } from './wire.js';

export const COMPENSATION_ATTEMPTS_MAX = 60;
export const COMPENSATION_PENDING_MAX = 10_000;
const COMPENSATION_BACKOFF_MS = [100, 250, 500, 1000, 2000];

/** Releases the transaction's hold or remembers it as reversed; with `creditBack`, a posted debit is credited back. */
export async function undoTransaction(ledger: Ledger, balanceId: string, txId: string, depositId: string | null, creditBack: boolean): Promise<void> {
  const r = await ledger.release({ idempotencyKey: `undo:${txId}`, txId, balanceId, rememberOrphan: true });
  if (!creditBack || r.reason !== 'TRANSACTION_NOT_OPEN') return;
  const tx = await ledger.getTransaction(balanceId, txId);
  if (tx === null || tx.status !== 'CLEARED' || tx.reversed) return;
  await ledger.credit({
    type: 'REFUND', idempotencyKey: `undo-credit:${txId}`, txId: `undo.${txId}`, balanceId,
    amountMinor: tx.amountMinor + tx.feeMinor + tx.fxFeeMinor, depositId, meta: { compensates: txId },
  });
}

/**
 * Undoes an 0100/0200 debit from its wire fields alone (the card is looked up by PAN): for the
 * requests of a batch that failed as a whole. Anything else (credits, advices, reversals) is left
 * as it is: credits and advices are not declined by a failure of the switch's own.
 */
export async function undoRequest(ledger: Ledger, cards: CardStore, mti: string, f: IsoFields, depositIdOf: (configId: string, currency: string) => Promise<string | null>): Promise<boolean> {
  const cls = mti.slice(0, 3);
  if ((cls !== '010' && cls !== '020') || kindOf(text(f, 3)) !== 'DEBIT') return false;
  const pan = text(f, 2);
  const f7 = text(f, 7);
  const stan = text(f, 11);
  if (pan === undefined || f7 === undefined || stan === undefined) return false;
  const card = await cards.findByPan(pan);
  if (card === null) return false;
  const txId = transactionId(card.id, mti, f7, stan, text(f, 32) ?? '', text(f, 41));
  await undoTransaction(ledger, card.balanceId, txId, await depositIdOf(card.configId, card.currency), cls === '020');
  return true;
}

let pending = 0;

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
    const wait = COMPENSATION_BACKOFF_MS[Math.min(attempt, COMPENSATION_BACKOFF_MS.length - 1)]!;
    setTimeout(() => compensate(step, attempt + 1), wait).unref();
  });
}

function log(msg: string): void {
  process.stderr.write(JSON.stringify({ t: new Date().toISOString(), level: 'error', msg, code: 'SW_ERR_COMPENSATION' }) + '\n');
}

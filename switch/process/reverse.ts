// 0400 reversal request / 0420 reversal advice (SPEC §2.3): find the original (originals.ts) and
// reverse it in full, or down to the new final amount of field 95 (partial reversal). A second
// reversal of the same original moves nothing (the ledger's idempotency and the transaction's
// state both ensure it). Several candidates: AMBIGUOUS_REFERENCED_TRANSACTION (96; an advice is
// still answered 00 and moves nothing). No original at all: the reversal is acknowledged (00) and,
// when field 90 names the original, remembered under what field 90 names, so that the original,
// arriving later, is declined 05 (ALREADY_REVERSED) and holds nothing.
import type { ProcessContext } from './context.js';
import { decide, type Decision, type Request } from './decision.js';
import type { CardRecord } from '../../stores/cards.js';
import { fromLedger, type Reason } from '../../iso/reasons.js';
import { amountMinor, text, transactionId } from '../../iso/wire.js';
import { REVERSAL_TYPE } from '../../iso/processing.js';
import { matchOriginal } from './originals.js';
import { messagePan } from '../../cardauth/fields.js';
import { reportToPartner } from './partner.js';

export async function reverse(ctx: ProcessContext, req: Request): Promise<Decision> {
  const f = req.msg.fields;
  const reversal = { type: REVERSAL_TYPE, category: 'CREDIT' as const, status: 'REVERSED' as const };
  const pan = messagePan(f);
  const f95 = text(f, 95);
  const newAmount = f95 === undefined ? 0 : amountMinor(f95.slice(0, 12));
  const card = pan === undefined ? null : await (req.card ?? ctx.cards.findByPan(pan));
  const txId = card === null ? null : transactionId(card.id, req.msg.mti, text(f, 7) ?? '', text(f, 11) ?? '', text(f, 32) ?? '', text(f, 41));
  const refuse = (reason: Reason): Decision => decide(req, { reason, ...reversal, card, txId });
  if (pan === undefined || !(newAmount >= 0)) return refuse('FORMAT_ERROR');
  if (card === null) return refuse('CARD_NOT_FOUND');

  let outcome: Reversed = { known: false, movedMinor: 0, refusal: null, debitedBack: false };
  const apply = async (originalTxId: string): Promise<boolean> => {
    outcome = await reverseOriginal(ctx, card, originalTxId, newAmount, false);
    return outcome.known;
  };
  const m = await matchOriginal(ctx, f, card, apply, false);
  if (m.found) {
    // Nothing is acknowledged as reversed without moving what it reverses (SPEC §2.3): a reversal
    // the ledger refuses (field 95 above the original, a credit-back past the maximum) is declined
    // 13, or for an advice acknowledged and recorded INVALID with that reason.
    if (outcome.refusal !== null) return decide(req, { reason: outcome.refusal, ...reversal, card, txId, referenceTxId: m.txId });
    const program = ctx.programs.byId(card.configId);
    if (program !== undefined && txId !== null) {
      // A partner-mode program's partner is told what the scheme reversed (SPEC §5): money given back is a force-credit.
      const subject = { card, program, txId, nowMs: ctx.now(), startedMs: req.takenMs, amountMinor: outcome.movedMinor, priced: null, kind: 'REFUND' as const, pc: { type: 'Adjustment' } };
      await reportToPartner(ctx, req, subject, { kind: 'reversed', originalTxId: m.txId, movedMinor: outcome.movedMinor, debitedBack: outcome.debitedBack });
    }
    return decide(req, { reason: 'APPROVED', ...reversal, card, txId, referenceTxId: m.txId, amountMinor: outcome.movedMinor, ledger: { op: 'REVERSE', originalTxId: m.txId } });
  }
  if (m.ambiguous) return refuse('AMBIGUOUS_REFERENCED_TRANSACTION');
  // An unknown original is acknowledged (the processor must not retry it forever) and, when field
  // 90 names it, remembered as reversed.
  if (m.named !== null) await reverseOriginal(ctx, card, m.named, newAmount, true);
  return decide(req, { reason: 'APPROVED', ...reversal, card, txId, referenceTxId: m.named });
}

/**
 * What reversing one transaction did: `known`, the ledger had it; `movedMinor`, money given back
 * by this call (fees included); `refusal`, why the ledger moved nothing although it knows the
 * transaction (null when it reversed it now or already had).
 */
interface Reversed { known: boolean; movedMinor: number; refusal: Reason | null; debitedBack: boolean }

/**
 * Reverses `originalTxId` whatever its state (ledger `reverse`): an open hold is released, posted
 * money is moved back (a debit credited back, a credit debited back), in full or down to
 * `newAmount`, and the card's daily-limit usage is given back.
 */
async function reverseOriginal(ctx: ProcessContext, card: CardRecord, originalTxId: string, newAmount: number, rememberOrphan: boolean): Promise<Reversed> {
  const r = await ctx.ledger.reverse({
    // The probe and the remembering of an orphan are two ledger operations: two idempotency keys.
    idempotencyKey: `${rememberOrphan ? 'orphan' : 'rev'}:${originalTxId}:${newAmount}`, txId: originalTxId, balanceId: card.balanceId, rememberOrphan,
    cardId: card.id, ...(newAmount > 0 ? { newAmountMinor: newAmount } : {}),
  });
  const known = r.reason !== 'TRANSACTION_NOT_FOUND';
  const refusal: Reason | null = r.ok || !known ? null : r.reason === 'INVALID_AMOUNT' || r.reason === 'AMOUNT_TOO_LARGE' ? 'INVALID_AMOUNT' : fromLedger(r.reason);
  return { known, movedMinor: r.movedMinor, refusal, debitedBack: r.effect === 'DEBITED_BACK' };
}

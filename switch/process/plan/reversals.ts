// 0400 reversal request / 0420 reversal advice: find the original (run/originals.ts) and reverse
// it in full, or down to the new final amount of field 95 (partial reversal). A second reversal of
// the same original moves nothing (the ledger's idempotency and the transaction's state both
// ensure it). Several candidates: AMBIGUOUS_REFERENCED_TRANSACTION (96; an advice is still
// answered 00 and moves nothing). No original at all: the reversal is acknowledged (00) and, when
// field 90 names the original, remembered under what field 90 names, so that the original,
// arriving later, is declined 05 (ALREADY_REVERSED) and holds nothing.
import type { Request } from '../decision.js';
import { amountMinor, text, transactionId } from '../../../iso/wire.js';
import { refusedReversal } from './conclude.js';
import type { Facts, Plan } from './types.js';

/** The plan of an 0400 or 0420 (or their repeats). */
export function planReversal(req: Request, facts: Facts): Plan {
  const f = req.msg.fields;
  const f95 = text(f, 95);
  const newAmountMinor = f95 === undefined ? 0 : amountMinor(f95.slice(0, 12));
  const card = facts.card;
  const txId = card === null ? null : transactionId(card.id, req.msg.mti, text(f, 7) ?? '', text(f, 11) ?? '', text(f, 32) ?? '', text(f, 41));
  if (text(f, 2) === undefined) return { op: 'ANSWER', decision: refusedReversal(req, { card, txId }, 'FORMAT_ERROR', { field: 2, problem: 'required and absent' }) };
  if (!(newAmountMinor >= 0)) return { op: 'ANSWER', decision: refusedReversal(req, { card, txId }, 'FORMAT_ERROR', { field: 95, problem: 'positions 1-12 are not an amount' }) };
  if (card === null) return { op: 'ANSWER', decision: refusedReversal(req, { card, txId }, 'CARD_NOT_FOUND') };
  return { op: 'REVERSE', r: { card, program: facts.program, txId, newAmountMinor, nowMs: facts.nowMs, startedMs: req.takenMs } };
}

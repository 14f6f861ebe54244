// Advices report what already happened: they are never declined, always answered 00, and posted.
// - 0120 authorization advice (stand-in approved): a debit is a forced hold (it may take the
//   balance below zero), or, when its field 90 names an open authorization of the card (a
//   completion advice: a fuel pump's pre-authorization completed for less, a tip), that
//   authorization's hold replaced by its amount; a payment credit posts at once; a refund or an
//   inquiry moves nothing.
// - 0220 financial advice: a debit with an original is the clearing of that authorization (equal,
//   less: the rest released, more: the excess forced); the original is found by field 90, else by
//   PAN + field 37 (+ field 38 when present); without one, or with several candidates (recorded
//   AMBIGUOUS_REFERENCED_TRANSACTION), it is a forced post: the scheme has settled it. A refund is
//   credited (under the original's transaction id when field 90 names one); a payment credit
//   posts at once.
// An advice that cannot be posted (fields missing, unknown processing code, unknown card, a
// currency that cannot be converted) is still acknowledged, moves nothing, and is recorded
// INVALID with its reason.
import type { Request } from '../decision.js';
import { mtiClass, namedTransactionId, originalData, text } from '../../../iso/wire.js';
import { examine, isRefused } from './checks.js';
import { about, refusedDecision } from './conclude.js';
import type { Facts, Plan } from './types.js';

/** The plan of an 0120 (or its repeat 0121). */
export function planAuthorizationAdvice(req: Request, facts: Facts): Plan {
  const a = examine(req, facts, false);
  if (isRefused(a)) return { op: 'ANSWER', decision: refusedDecision(req, a) };
  if (a.kind === 'DEBIT') {
    const od = originalData(text(req.msg.fields, 90));
    return { op: 'FORCE_HOLD', c: a, completes: od !== null && mtiClass(od.mti) === '010' ? namedTransactionId(a.card.id, req.msg.fields) : null };
  }
  if (a.kind === 'PAYMENT_CREDIT') return { op: 'ADVICE_CREDIT', c: a, idempotencyKey: `advice:${a.txId}` };
  return { op: 'ANSWER', decision: about(req, a, { reason: 'APPROVED' }) };
}

/** The plan of an 0220 (or its repeat 0221). */
export function planFinancialAdvice(req: Request, facts: Facts): Plan {
  const a = examine(req, facts, false);
  if (isRefused(a)) return { op: 'ANSWER', decision: refusedDecision(req, a) };
  switch (a.kind) {
    case 'DEBIT': return { op: 'CLEAR', c: a };
    case 'REFUND': return { op: 'REFUND_CLEAR', c: a, originalTxId: namedTransactionId(a.card.id, req.msg.fields) };
    case 'PAYMENT_CREDIT': return { op: 'ADVICE_CREDIT', c: a, idempotencyKey: `force:${a.txId}` };
    case 'INQUIRY': return { op: 'ANSWER', decision: about(req, a, { reason: 'APPROVED' }) };
  }
}

// Advices report what already happened (SPEC §2.2, §2.4): they are never declined, always
// answered 00, and posted.
// - 0120 authorization advice (stand-in approved): a debit is a forced hold (it may take the
//   balance below zero); a payment credit posts at once; a refund or an inquiry moves nothing.
// - 0220 financial advice: a debit with an original is the clearing of that authorization (equal,
//   less: the rest released, more: the excess forced); the original is found by field 90, else by
//   PAN + field 37 (+ field 38 when present); without one, or with several candidates (recorded
//   AMBIGUOUS_REFERENCED_TRANSACTION), it is a forced post: the scheme has settled it. A refund is
//   credited (under the original's transaction id when field 90 names one); a payment credit
//   posts at once.
// An advice that cannot be posted (fields missing, unknown processing code, unknown card, a
// currency that cannot be converted) is still acknowledged, moves nothing, and is recorded
// INVALID with its reason.
import type { ProcessContext } from './context.js';
import type { Decision, Request } from './decision.js';
import { readAdvice, type Checked } from './request.js';
import { creditArgs, debitArgs, holdArgs } from './holds.js';
import { aboutChecked, refused } from './outcomes.js';
import { originalData, text, transactionId } from '../../iso/wire.js';
import { matchOriginal } from './originals.js';
import { reportToPartner } from './partner.js';
import { fromLedger } from '../../iso/reasons.js';
import type { PostResult } from '../../ledger/index.js';

export async function authorizationAdvice(ctx: ProcessContext, req: Request): Promise<Decision> {
  const a = await readAdvice(ctx, req);
  if (a.refused) return refused(req, a);
  if (a.kind === 'DEBIT') {
    await ctx.ledger.hold(holdArgs(a, { idempotencyKey: `advice:${a.txId}`, forced: true }));
    await reportToPartner(ctx, req, a, { kind: 'force-debit', status: 'AUTHORIZED' });
    return aboutChecked(req, a, { reason: 'APPROVED', ledger: { op: 'HOLD', forced: true, standIn: false, approved: true }, original: true });
  }
  if (a.kind === 'PAYMENT_CREDIT') {
    const r = await ctx.ledger.credit(creditArgs(a, { idempotencyKey: `advice:${a.txId}` }));
    if (r.ok) await reportToPartner(ctx, req, a, { kind: 'force-credit', status: 'CLEARED' });
    return credited(req, a, r, 'CLEARED');
  }
  return aboutChecked(req, a, { reason: 'APPROVED' });
}

export async function financialAdvice(ctx: ProcessContext, req: Request): Promise<Decision> {
  const a = await readAdvice(ctx, req);
  if (a.refused) return refused(req, a);
  switch (a.kind) {
    case 'DEBIT': return clearOrPost(ctx, req, a);
    case 'REFUND': {
      const od = originalData(text(req.msg.fields, 90));
      const r = await creditRefund(ctx, a, od === null ? null : transactionId(a.card.id, od.mti, od.f7, od.stan, od.acquirer, text(req.msg.fields, 41)));
      if (r.ok) await reportToPartner(ctx, req, a, { kind: 'force-credit', status: 'CLEARED' });
      // Posted under the refund authorization's id: that 0100 is what a reversal names, not this advice.
      return { ...credited(req, a, r, 'CLEARED'), original: false };
    }
    case 'PAYMENT_CREDIT': {
      const r = await ctx.ledger.credit(creditArgs(a, { idempotencyKey: `force:${a.txId}` }));
      if (r.ok) await reportToPartner(ctx, req, a, { kind: 'force-credit', status: 'CLEARED' });
      return credited(req, a, r, 'CLEARED');
    }
    case 'INQUIRY': return aboutChecked(req, a, { reason: 'APPROVED' });
  }
}

/**
 * The clearing of the original authorization (found as originals.ts says); when there is none the
 * advice is an offline transaction: a forced post under its own transaction id. With several
 * candidates it is posted all the same (the scheme settled it) and recorded
 * AMBIGUOUS_REFERENCED_TRANSACTION.
 */
async function clearOrPost(ctx: ProcessContext, req: Request, a: Checked): Promise<Decision> {
  // One idempotency key per (advice, candidate): a first probe of an id the ledger does not know
  // must not make the clearing of the candidate found next look like a conflicting replay.
  let cleared = { fromHoldMinor: 0, forcedMinor: 0, releasedMinor: 0 };
  const clear = async (originalTxId: string): Promise<boolean> => {
    const r = await ctx.ledger.clear({ idempotencyKey: `clear:${a.txId}:${originalTxId}`, txId: originalTxId, balanceId: a.card.balanceId, amountMinor: a.amountMinor, nowMs: a.nowMs });
    cleared = { fromHoldMinor: r.clearedFromHoldMinor, forcedMinor: r.forcedMinor, releasedMinor: r.releasedMinor };
    // A remembered orphan reversal (no authorization ever held under that id) is no original to
    // clear: the scheme settled the money all the same, so the advice is a forced post.
    return r.reason !== 'TRANSACTION_NOT_FOUND' && !(r.reason === 'TRANSACTION_NOT_OPEN' && r.status === 'REVERSED');
  };
  const m = await matchOriginal(ctx, req.msg.fields, a.card, clear, true);
  if (m.found) {
    // The partner learns of the clearing (EXTERNAL_BALANCE: PUT CLEARED, and what a clearing for
    // less gave back) and of any excess over the authorization (force-debit).
    await reportToPartner(ctx, req, a, { kind: 'cleared', originalTxId: m.txId, amountMinor: a.amountMinor, fromHoldMinor: cleared.fromHoldMinor, releasedMinor: cleared.releasedMinor });
    if (cleared.forcedMinor > 0) await reportToPartner(ctx, req, a, { kind: 'force-debit', status: 'CLEARED', amountMinor: cleared.forcedMinor });
    return aboutChecked(req, a, { reason: 'APPROVED', referenceTxId: m.txId, ledger: { op: 'CLEAR', originalTxId: m.txId } });
  }
  await ctx.ledger.debit(debitArgs(a, { idempotencyKey: `force:${a.txId}`, forced: true }));
  await reportToPartner(ctx, req, a, { kind: 'force-debit', status: 'CLEARED' });
  return aboutChecked(req, a, {
    reason: m.ambiguous ? 'AMBIGUOUS_REFERENCED_TRANSACTION' : 'APPROVED', processing: 'SUCCESS',
    ledger: { op: 'POST', forced: true, standIn: false, approved: true }, original: true,
  });
}

/**
 * A refund's 0100 held nothing, so its clearing is the credit itself, recorded under the original's
 * transaction id. When that id is taken (a second clearing of the same refund, or field 90 naming
 * a debit) the credit is recorded under the advice's own id: each clearing pays once.
 */
async function creditRefund(ctx: ProcessContext, a: Checked, originalTxId: string | null): Promise<PostResult> {
  if (originalTxId !== null) {
    const r = await ctx.ledger.credit(creditArgs(a, { idempotencyKey: `clear:${a.txId}`, txId: originalTxId }));
    if (r.reason !== 'TRANSACTION_EXISTS') return r;
  }
  return ctx.ledger.credit(creditArgs(a, { idempotencyKey: `force:${a.txId}` }));
}

/**
 * An advice's credit: posted (an original a reversal may find), or, when the ledger cannot post it
 * (a balance past the n12 maximum, a balance gone), acknowledged all the same and recorded INVALID
 * with the reason: the scheme reported it, the issuer's operations must look at it.
 */
function credited(req: Request, a: Checked, r: PostResult, status: 'CLEARED'): Decision {
  if (!r.ok) return aboutChecked(req, a, { reason: fromLedger(r.reason), status, ledger: { op: 'CREDIT', approved: false } });
  return aboutChecked(req, a, { reason: 'APPROVED', status, ledger: { op: 'CREDIT', approved: true }, original: true });
}

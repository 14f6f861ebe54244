// 0100 authorization (dual message), after the checks of request.ts: a debit (00, 01, 09) is one
// deposit-then-user hold in the ledger, cleared later by an 0220; a zero-amount purchase is an
// account verification (85, nothing held); a refund (20) is approved and holds nothing (it is
// credited when its 0220 clears); a payment credit (28) posts at once; a balance inquiry (30)
// moves nothing.
import type { ProcessContext } from './context.js';
import type { Decision, Request } from './decision.js';
import { fromLedger } from '../../iso/reasons.js';
import { withinBudget } from './deadline.js';
import { checkRequest, type Checked } from './request.js';
import { holdArgs } from './holds.js';
import { aboutChecked, approvalRecord, approveWithBalance, postCredit, refused } from './outcomes.js';
import { ACCOUNT_VERIFICATION_TYPE } from '../../iso/processing.js';
import { partnerDebit } from './partner.js';

export async function authorize(ctx: ProcessContext, req: Request): Promise<Decision> {
  const c = await checkRequest(ctx, req);
  if (c.refused) return refused(req, c);
  if (c.accountVerification) return aboutChecked(req, c, { reason: 'ACCOUNT_VERIFIED', type: ACCOUNT_VERIFICATION_TYPE, status: 'CLEARED' });
  switch (c.kind) {
    case 'DEBIT': return holdFunds(ctx, req, c);
    case 'PAYMENT_CREDIT': return postCredit(ctx, req, c, `auth:${c.txId}`);
    case 'REFUND': return approveWithBalance(ctx, req, c);
    case 'INQUIRY': return approveWithBalance(ctx, req, c);
  }
}

async function holdFunds(ctx: ProcessContext, req: Request, c: Checked): Promise<Decision> {
  return (await partnerDebit(ctx, req, c, 'AUTHORIZED', (userUnchecked) => localHold(ctx, req, c, userUnchecked))) ?? localHold(ctx, req, c, false);
}

/** The deposit-then-user hold of an authorization, within its budget (deadline.ts). */
async function localHold(ctx: ProcessContext, req: Request, c: Checked, userUnchecked: boolean): Promise<Decision> {
  const b = await withinBudget(ctx, c, 'H', req.deadlines, () => ctx.ledger.hold(holdArgs(c, { idempotencyKey: null, guard: req.guard, userUnchecked, record: approvalRecord(req, c, 'HOLD') })));
  if (b.kind === 'standInDeclined') {
    return aboutChecked(req, c, { reason: 'BUDGET_DEADLINE_PASSED', ledger: { op: 'HOLD', forced: false, standIn: true, approved: false } });
  }
  if (b.kind === 'standInApproved') {
    return aboutChecked(req, c, { reason: 'APPROVED', ledger: { op: 'HOLD', forced: true, standIn: true, approved: true }, original: true });
  }
  const held = b.result;
  return aboutChecked(req, c, {
    reason: held.approved ? 'APPROVED' : fromLedger(held.reason),
    balance: { currencyN3: c.currencyN3, availableMinor: held.availableMinor, blockedMinor: held.blockedMinor },
    ledger: { op: 'HOLD', forced: false, standIn: false, approved: held.approved, recorded: held.recorded }, scriptSeconds: b.scriptSeconds, original: held.approved,
  });
}

// 0200 financial request (single message), after the checks of request.ts: a debit (00, 01, 09)
// is checked like an 0100 hold and posted at once (ledger `debit`, status CLEARED); a refund (20)
// or payment credit (28) posts at once; a balance inquiry (30) moves nothing.
import type { ProcessContext } from './context.js';
import type { Decision, Request } from './decision.js';
import { fromLedger } from '../../iso/reasons.js';
import { withinBudget } from './deadline.js';
import { checkRequest, type Checked } from './request.js';
import { debitArgs } from './holds.js';
import { aboutChecked, approvalRecord, approveWithBalance, postCredit, refused } from './outcomes.js';
import { partnerDebit } from './partner.js';

export async function financial(ctx: ProcessContext, req: Request): Promise<Decision> {
  const c = await checkRequest(ctx, req);
  if (c.refused) return refused(req, c);
  switch (c.kind) {
    case 'DEBIT': return debitFunds(ctx, req, c);
    case 'REFUND': return postCredit(ctx, req, c, `fin:${c.txId}`);
    case 'PAYMENT_CREDIT': return postCredit(ctx, req, c, `fin:${c.txId}`);
    case 'INQUIRY': return approveWithBalance(ctx, req, c);
  }
}

async function debitFunds(ctx: ProcessContext, req: Request, c: Checked): Promise<Decision> {
  return (await partnerDebit(ctx, req, c, 'CLEARED', (userUnchecked) => localDebit(ctx, req, c, userUnchecked))) ?? localDebit(ctx, req, c, false);
}

/** The deposit-then-user debit of a financial request, posted at once, within its budget (deadline.ts). */
async function localDebit(ctx: ProcessContext, req: Request, c: Checked, userUnchecked: boolean): Promise<Decision> {
  const b = await withinBudget(ctx, c, 'P', req.deadlines, () => ctx.ledger.debit(debitArgs(c, { idempotencyKey: null, guard: req.guard, userUnchecked, record: approvalRecord(req, c, 'POST') })));
  if (b.kind !== 'decided') {
    return aboutChecked(req, c, { reason: 'BUDGET_DEADLINE_PASSED', ledger: { op: 'POST', forced: false, standIn: true, approved: false } });
  }
  const r = b.result;
  return aboutChecked(req, c, {
    reason: r.approved ? 'APPROVED' : fromLedger(r.reason),
    balance: { currencyN3: c.currencyN3, availableMinor: r.availableMinor, blockedMinor: r.blockedMinor },
    ledger: { op: 'POST', forced: false, standIn: false, approved: r.approved, recorded: r.recorded }, scriptSeconds: b.scriptSeconds, original: r.approved,
  });
}

// 0200 financial request (single message), after the checks of request.ts: a debit (00, 01, 09)
// is checked like an 0100 hold and posted at once (ledger `debit`, status CLEARED); a refund (20)
// or payment credit (28) posts at once; a balance inquiry (30) moves nothing.
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { fromLedger } from '../reasons.js';
import { decided, decline } from './respond.js';
import { withinBudget } from './deadline.js';
import { checkRequest, type Checked } from './request.js';
import { postCredit } from './credit.js';
import { balanceInquiry } from './inquiry.js';

export async function financial(ctx: ProcessContext, m: Inbound, mti: string): Promise<IsoMessage> {
  const c = await checkRequest(ctx, m);
  if (typeof c === 'string') return decline(ctx, m, mti, c);
  switch (c.kind) {
    case 'DEBIT': return debitFunds(ctx, m, mti, c);
    case 'REFUND': return postCredit(ctx, m, mti, c, `fin:${c.txId}`);
    case 'PAYMENT_CREDIT': return postCredit(ctx, m, mti, c, `fin:${c.txId}`);
    case 'INQUIRY': return balanceInquiry(ctx, m, mti, c);
  }
}

async function debitFunds(ctx: ProcessContext, m: Inbound, mti: string, c: Checked): Promise<IsoMessage> {
  m.o.status = 'CLEARED';
  const call = () => ctx.ledger.debit({
    idempotencyKey: `fin:${c.txId}`, txId: c.txId, balanceId: c.card.balanceId, depositId: c.depositId,
    amountMinor: c.amountMinor, feeMinor: c.priced?.feeMinor ?? 0, fxFeeMinor: c.priced?.fxFeeMinor ?? 0, companyId: c.companyId,
    nowMs: c.nowMs, ...(c.limits === undefined ? {} : { limits: c.limits }),
  });
  const b = await withinBudget(ctx, c, 'P', m, call);
  if (b.kind !== 'decided') return decline(ctx, m, mti, 'BUDGET_DEADLINE_PASSED');
  const r = b.result;
  return decided(ctx, m, mti, r.approved ? 'APPROVED' : fromLedger(r.reason), c.txId, { ...r, currencyN3: c.currencyN3 });
}

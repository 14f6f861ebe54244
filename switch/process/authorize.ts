// 0100 authorization (dual message), after the checks of request.ts: a debit (00, 01, 09) is one
// deposit-then-user hold in the ledger, cleared later by an 0220; a refund (20) is approved and
// holds nothing (it is credited when its 0220 clears); a payment credit (28) posts at once; a
// balance inquiry (30) moves nothing.
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { holdExpiresAtMs } from '../../ledger/index.js';
import { fromLedger } from '../reasons.js';
import { decided, decline, standInApproval } from './respond.js';
import { withinBudget } from './deadline.js';
import { checkRequest, type Checked } from './request.js';
import { postCredit } from './credit.js';
import { balanceInquiry } from './inquiry.js';
import { text } from './wire.js';

export async function authorize(ctx: ProcessContext, m: Inbound, mti: string): Promise<IsoMessage> {
  const c = await checkRequest(ctx, m);
  if (typeof c === 'string') return decline(ctx, m, mti, c);
  switch (c.kind) {
    case 'DEBIT': return holdFunds(ctx, m, mti, c);
    case 'PAYMENT_CREDIT': return postCredit(ctx, m, mti, c, `auth:${c.txId}`);
    case 'REFUND': return balanceInquiry(ctx, m, mti, c);
    case 'INQUIRY': return balanceInquiry(ctx, m, mti, c);
  }
}

async function holdFunds(ctx: ProcessContext, m: Inbound, mti: string, c: Checked): Promise<IsoMessage> {
  const call = () => ctx.ledger.hold({
    idempotencyKey: `auth:${c.txId}`, txId: c.txId, balanceId: c.card.balanceId, depositId: c.depositId,
    amountMinor: c.amountMinor, feeMinor: c.priced?.feeMinor ?? 0, fxFeeMinor: c.priced?.fxFeeMinor ?? 0, companyId: c.companyId,
    expiresAtMs: holdExpiresAtMs(c.program, text(m.fields, 18), c.nowMs), nowMs: c.nowMs,
    ...(c.limits === undefined ? {} : { limits: c.limits }),
  });
  const b = await withinBudget(ctx, c, 'H', m, call);
  if (b.kind === 'standInDeclined') return decline(ctx, m, mti, 'BUDGET_DEADLINE_PASSED');
  if (b.kind === 'standInApproved') return standInApproval(ctx, m, mti, c.txId);
  const held = b.result;
  return decided(ctx, m, mti, held.approved ? 'APPROVED' : fromLedger(held.reason), c.txId, { ...held, currencyN3: c.currencyN3 });
}

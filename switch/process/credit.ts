// Card credits on the request path (SPEC §2.2): a payment credit (28) in an 0100 or 0200, and a
// refund (20) in an 0200, post at once: the user is credited from the scheme and the program's
// deposit, if any, is credited back (ledger `credit`).
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { fromLedger } from '../reasons.js';
import { decided } from './respond.js';
import type { Checked } from './request.js';

export async function postCredit(ctx: ProcessContext, m: Inbound, mti: string, c: Checked, idempotencyKey: string): Promise<IsoMessage> {
  m.o.status = 'CLEARED';
  const r = await ctx.ledger.credit({
    type: c.kind === 'REFUND' ? 'REFUND' : 'PAYMENT_CREDIT', idempotencyKey, txId: c.txId,
    balanceId: c.card.balanceId, amountMinor: c.amountMinor, depositId: c.depositId, nowMs: c.nowMs,
  });
  return decided(ctx, m, mti, r.ok ? 'APPROVED' : fromLedger(r.reason), c.txId, { ...r, currencyN3: c.currencyN3 });
}

// Answers that move no money: a balance inquiry (30), and a refund (20) in an 0100, which is
// approved now and credited when its 0220 clears. Approved with 38 and field 54 read from the
// user balance.
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import { decided, decline } from './respond.js';
import type { Checked } from './request.js';

export async function balanceInquiry(ctx: ProcessContext, m: Inbound, mti: string, c: Checked): Promise<IsoMessage> {
  const b = await ctx.ledger.getUserBalance(c.card.balanceId);
  if (b === null) return decline(ctx, m, mti, 'BALANCE_NOT_FOUND');
  return decided(ctx, m, mti, 'APPROVED', c.txId, { ...b, currencyN3: c.currencyN3 });
}

// 0400 reversal request / 0420 reversal advice: find the original by field 90 and release its hold
// in full, or down to the new final amount of field 95 (partial reversal). A second reversal of
// the same original moves nothing (the ledger's idempotency and the hold's state both ensure it).
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import { responseCode } from '../reasons.js';
import { answer, decline, ECHO_FIELDS } from './respond.js';
import { amountMinor, originalData, text, transactionId } from './wire.js';

export async function reverse(ctx: ProcessContext, m: IsoMessage, mti: string): Promise<IsoMessage> {
  const f = m.fields;
  const advice = m.mti.charCodeAt(2) === 50; // 042x: must be accepted
  const pan = text(f, 2);
  const od = originalData(text(f, 90));
  if (pan === undefined || od === null) return advice ? approved(ctx, m, mti) : decline(ctx, m, mti, 'FORMAT_ERROR');
  const card = await ctx.cards.findByPan(pan);
  if (card === null) return advice ? approved(ctx, m, mti) : decline(ctx, m, mti, 'CARD_NOT_FOUND');
  const txId = transactionId(card.id, od.f7, od.stan, od.acquirer);
  const f95 = text(f, 95);
  const newAmount = f95 === undefined ? 0 : amountMinor(f95.slice(0, 12));
  await ctx.ledger.release({
    idempotencyKey: `rev:${txId}:${newAmount}`, txId, balanceId: card.balanceId,
    ...(newAmount > 0 ? { newAmountMinor: newAmount } : {}),
  });
  // An unknown original is acknowledged: the processor must not retry it forever.
  return approved(ctx, m, mti);
}

function approved(ctx: ProcessContext, m: IsoMessage, mti: string): IsoMessage {
  return answer(m.fields, mti, ECHO_FIELDS, responseCode('APPROVED', ctx.dialect));
}

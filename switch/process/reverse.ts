// 0400 reversal request / 0420 reversal advice (SPEC §2.3): find the original and release its
// hold in full, or down to the new final amount of field 95 (partial reversal). A second reversal
// of the same original moves nothing (the ledger's idempotency and the hold's state both ensure it).
//
// The original is found by field 90 (its transaction id is a function of the card and field 90's
// STAN, date/time and acquirer); failing that, by PAN + field 37 among the card's approved
// originals. Two or more candidates: AMBIGUOUS_REFERENCED_TRANSACTION (96; an advice is still
// answered 00 and moves nothing). No original at all: the reversal is acknowledged (00) and, when
// field 90 names the original, remembered, so that the original, arriving later, is declined 05
// (ALREADY_REVERSED) and holds nothing.
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import type { CardRecord } from '../cards.js';
import { acknowledge, decline } from './respond.js';
import { amountMinor, originalData, text, transactionId } from './wire.js';

export async function reverse(ctx: ProcessContext, m: Inbound, mti: string): Promise<IsoMessage> {
  const f = m.fields;
  const advice = m.mti.charCodeAt(2) === 50; // 042x: must be accepted
  m.o.type = 'Adjustment';
  m.o.category = 'CREDIT';
  m.o.status = 'REVERSED';
  const pan = text(f, 2);
  const f95 = text(f, 95);
  const newAmount = f95 === undefined ? 0 : amountMinor(f95.slice(0, 12));
  if (pan === undefined || !(newAmount >= 0)) return advice ? acknowledge(ctx, m, mti, 'FORMAT_ERROR') : decline(ctx, m, mti, 'FORMAT_ERROR');
  const card = await (m.cardLookup ?? ctx.cards.findByPan(pan));
  if (card === null) return advice ? acknowledge(ctx, m, mti, 'CARD_NOT_FOUND') : decline(ctx, m, mti, 'CARD_NOT_FOUND');
  m.o.card = card;
  const od = originalData(text(f, 90));
  const named = od === null ? null : transactionId(card.id, od.mti, od.f7, od.stan, od.acquirer, text(f, 41));
  m.o.txId = transactionId(card.id, m.mti, text(f, 7) ?? '', text(f, 11) ?? '', text(f, 32) ?? '', text(f, 41));

  if (named !== null) {
    const r = await release(ctx, card, named, newAmount, false);
    if (r !== 'TRANSACTION_NOT_FOUND') return done(ctx, m, mti, named);
  }
  const rrn = text(f, 37);
  const candidates = rrn === undefined ? [] : (await ctx.records.byRetrievalReference(card.balanceId, card.id, rrn)).filter((c) => c !== named);
  if (candidates.length > 1) {
    return advice ? acknowledge(ctx, m, mti, 'AMBIGUOUS_REFERENCED_TRANSACTION') : decline(ctx, m, mti, 'AMBIGUOUS_REFERENCED_TRANSACTION');
  }
  if (candidates.length === 1) {
    await release(ctx, card, candidates[0]!, newAmount, false);
    return done(ctx, m, mti, candidates[0]!);
  }
  // An unknown original is acknowledged (the processor must not retry it forever) and, when field
  // 90 names it, remembered as reversed.
  if (named !== null) await release(ctx, card, named, newAmount, true);
  m.o.referenceTxId = named;
  m.o.amountMinor = 0;
  return acknowledge(ctx, m, mti);
}

async function release(ctx: ProcessContext, card: CardRecord, txId: string, newAmount: number, rememberOrphan: boolean): Promise<string> {
  const r = await ctx.ledger.release({
    // The probe and the remembering of an orphan are two ledger operations: two idempotency keys.
    idempotencyKey: `${rememberOrphan ? 'orphan' : 'rev'}:${txId}:${newAmount}`, txId, balanceId: card.balanceId, rememberOrphan,
    ...(newAmount > 0 ? { newAmountMinor: newAmount } : {}),
  });
  return r.reason;
}

function done(ctx: ProcessContext, m: Inbound, mti: string, originalTxId: string): IsoMessage {
  m.o.referenceTxId = originalTxId;
  return acknowledge(ctx, m, mti);
}

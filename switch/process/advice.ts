// Advices report what already happened (SPEC §2.2, §2.4): they are never declined, always
// answered 00, and posted.
// - 0120 authorization advice (stand-in approved): a debit is a forced hold (it may take the
//   balance below zero); a payment credit posts at once; a refund or an inquiry moves nothing.
// - 0220 financial advice: a debit with an original (field 90) is the clearing of that
//   authorization (equal, less: the rest released, more: the excess forced); without one, or when
//   the original is unknown, a forced post. A refund is credited (under the original's transaction
//   id when field 90 names one); a payment credit posts at once.
// An advice that cannot be posted (fields missing, unknown processing code, unknown card) is still
// acknowledged and moves nothing.
import type { IsoFields, IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { CardRecord } from '../cards.js';
import type { Program } from '../programs.js';
import { holdExpiresAtMs } from '../../ledger/index.js';
import { acknowledge } from './respond.js';
import { depositFor, kindOf, type TxKind } from './request.js';
import { amountMinor, originalData, text, transactionId } from './wire.js';

interface Advice {
  kind: TxKind;
  card: CardRecord;
  program: Program;
  depositId: string | null;
  /** This advice's own transaction id (wire.ts). */
  txId: string;
  amountMinor: number;
  nowMs: number;
}

export async function authorizationAdvice(ctx: ProcessContext, m: IsoMessage, mti: string): Promise<IsoMessage> {
  const a = await readAdvice(ctx, m.fields);
  if (a === null) return acknowledge(ctx, m, mti);
  const balanceId = a.card.balanceId;
  if (a.kind === 'DEBIT') {
    await ctx.ledger.hold({
      idempotencyKey: `advice:${a.txId}`, txId: a.txId, balanceId, depositId: a.depositId, amountMinor: a.amountMinor,
      forced: true, expiresAtMs: holdExpiresAtMs(a.program, text(m.fields, 18), a.nowMs), nowMs: a.nowMs,
    });
  } else if (a.kind === 'PAYMENT_CREDIT') {
    await credit(ctx, a, a.txId, `advice:${a.txId}`);
  }
  return acknowledge(ctx, m, mti);
}

export async function financialAdvice(ctx: ProcessContext, m: IsoMessage, mti: string): Promise<IsoMessage> {
  const a = await readAdvice(ctx, m.fields);
  if (a === null) return acknowledge(ctx, m, mti);
  const od = originalData(text(m.fields, 90));
  const originalTxId = od === null ? null : transactionId(a.card.id, od.f7, od.stan, od.acquirer);
  if (a.kind === 'DEBIT') await clearOrPost(ctx, a, originalTxId);
  else if (a.kind === 'REFUND') await creditRefund(ctx, a, originalTxId);
  else if (a.kind === 'PAYMENT_CREDIT') await credit(ctx, a, a.txId, `force:${a.txId}`);
  return acknowledge(ctx, m, mti);
}

/**
 * The clearing of the original authorization; when there is none (no field 90, or the ledger does
 * not know it) the advice is an offline transaction: a forced post under its own transaction id.
 */
async function clearOrPost(ctx: ProcessContext, a: Advice, originalTxId: string | null): Promise<void> {
  const balanceId = a.card.balanceId;
  if (originalTxId !== null) {
    const r = await ctx.ledger.clear({ idempotencyKey: `clear:${a.txId}`, txId: originalTxId, balanceId, amountMinor: a.amountMinor, nowMs: a.nowMs });
    if (r.reason !== 'TRANSACTION_NOT_FOUND') return;
  }
  await ctx.ledger.debit({
    idempotencyKey: `force:${a.txId}`, txId: a.txId, balanceId, depositId: a.depositId,
    amountMinor: a.amountMinor, forced: true, nowMs: a.nowMs,
  });
}

/**
 * A refund's 0100 held nothing, so its clearing is the credit itself, recorded under the original's
 * transaction id. When that id is taken (a second clearing of the same refund, or field 90 naming
 * a debit) the credit is recorded under the advice's own id: each clearing pays once.
 */
async function creditRefund(ctx: ProcessContext, a: Advice, originalTxId: string | null): Promise<void> {
  if (originalTxId !== null) {
    const r = await credit(ctx, a, originalTxId, `clear:${a.txId}`);
    if (r !== 'TRANSACTION_EXISTS') return;
  }
  await credit(ctx, a, a.txId, `force:${a.txId}`);
}

async function credit(ctx: ProcessContext, a: Advice, txId: string, idempotencyKey: string): Promise<string> {
  const r = await ctx.ledger.credit({
    type: a.kind === 'REFUND' ? 'REFUND' : 'PAYMENT_CREDIT', idempotencyKey, txId,
    balanceId: a.card.balanceId, amountMinor: a.amountMinor, depositId: a.depositId, nowMs: a.nowMs,
  });
  return r.reason;
}

/** What the ledger needs to post an advice, or null when it cannot be posted. */
async function readAdvice(ctx: ProcessContext, f: IsoFields): Promise<Advice | null> {
  const pan = text(f, 2);
  const stan = text(f, 11);
  const f7 = text(f, 7);
  const kind = kindOf(text(f, 3));
  const amount = amountMinor(text(f, 4));
  if (pan === undefined || stan === undefined || f7 === undefined || kind === undefined) return null;
  if (kind !== 'INQUIRY' && !(amount > 0)) return null;
  // An unknown card: SPEC §2.2 wants an INVALID record with CARD_NOT_FOUND; the ledger keeps
  // records per user balance only, so there is nowhere to keep it yet.
  const card = await ctx.cards.findByPan(pan);
  if (card === null) return null;
  const program = ctx.programs.byId(card.configId);
  if (program === undefined) return null;
  const depositId = kind === 'INQUIRY' ? null : await depositFor(ctx, program, card.currency);
  const txId = transactionId(card.id, f7, stan, text(f, 32) ?? '');
  return { kind, card, program, depositId, txId, amountMinor: amount, nowMs: ctx.now() };
}

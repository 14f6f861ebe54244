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
import type { IsoFields, IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import type { CardRecord } from '../cards.js';
import type { Program } from '../programs.js';
import type { Reason } from '../reasons.js';
import { currencyNumeric } from '../currency.js';
import { holdExpiresAtMs } from '../../ledger/index.js';
import { acknowledge } from './respond.js';
import { depositFor, kindOf, partnerFor, type TxKind } from './request.js';
import { price, type Priced } from './pricing.js';
import { amountMinor, authorizationId, originalData, text, transactionId } from './wire.js';

interface Advice {
  kind: TxKind;
  card: CardRecord;
  program: Program;
  depositId: string | null;
  /** This advice's own transaction id (wire.ts). */
  txId: string;
  /** In the balance's currency. */
  amountMinor: number;
  priced: Priced | null;
  companyId: string | null;
  nowMs: number;
}

export async function authorizationAdvice(ctx: ProcessContext, m: Inbound, mti: string): Promise<IsoMessage> {
  const a = await readAdvice(ctx, m);
  if (typeof a === 'string') return acknowledge(ctx, m, mti, a);
  const balanceId = a.card.balanceId;
  if (a.kind === 'DEBIT') {
    await ctx.ledger.hold({
      idempotencyKey: `advice:${a.txId}`, txId: a.txId, balanceId, depositId: a.depositId, amountMinor: a.amountMinor,
      feeMinor: a.priced?.feeMinor ?? 0, fxFeeMinor: a.priced?.fxFeeMinor ?? 0, companyId: a.companyId,
      forced: true, expiresAtMs: holdExpiresAtMs(a.program, text(m.fields, 18), a.nowMs), nowMs: a.nowMs,
    });
  } else if (a.kind === 'PAYMENT_CREDIT') {
    m.o.status = 'CLEARED';
    await credit(ctx, a, a.txId, `advice:${a.txId}`);
  }
  return acknowledge(ctx, m, mti);
}

export async function financialAdvice(ctx: ProcessContext, m: Inbound, mti: string): Promise<IsoMessage> {
  const a = await readAdvice(ctx, m);
  if (typeof a === 'string') return acknowledge(ctx, m, mti, a);
  m.o.status = 'CLEARED';
  const od = originalData(text(m.fields, 90));
  const named = od === null ? null : transactionId(a.card.id, od.mti, od.f7, od.stan, od.acquirer, text(m.fields, 41));
  if (a.kind === 'DEBIT') await clearOrPost(ctx, m, a, named);
  else if (a.kind === 'REFUND') await creditRefund(ctx, a, named);
  else if (a.kind === 'PAYMENT_CREDIT') await credit(ctx, a, a.txId, `force:${a.txId}`);
  return acknowledge(ctx, m, mti);
}

/**
 * The clearing of the original authorization; when there is none (no field 90 and no match by
 * PAN + field 37, or the ledger does not know it) the advice is an offline transaction: a forced
 * post under its own transaction id.
 */
async function clearOrPost(ctx: ProcessContext, m: Inbound, a: Advice, named: string | null): Promise<void> {
  const balanceId = a.card.balanceId;
  if (named !== null && await clear(ctx, a, named)) {
    m.o.referenceTxId = named;
    return;
  }
  const found = await byRetrievalReference(ctx, m.fields, a.card, named);
  if (found === 'AMBIGUOUS') {
    m.o.reason = 'AMBIGUOUS_REFERENCED_TRANSACTION';
  } else if (found !== null && await clear(ctx, a, found)) {
    m.o.referenceTxId = found;
    return;
  }
  await ctx.ledger.debit({
    idempotencyKey: `force:${a.txId}`, txId: a.txId, balanceId, depositId: a.depositId, amountMinor: a.amountMinor,
    feeMinor: a.priced?.feeMinor ?? 0, fxFeeMinor: a.priced?.fxFeeMinor ?? 0, companyId: a.companyId, forced: true, nowMs: a.nowMs,
  });
}

async function clear(ctx: ProcessContext, a: Advice, originalTxId: string): Promise<boolean> {
  const r = await ctx.ledger.clear({ idempotencyKey: `clear:${a.txId}`, txId: originalTxId, balanceId: a.card.balanceId, amountMinor: a.amountMinor, nowMs: a.nowMs });
  return r.reason !== 'TRANSACTION_NOT_FOUND';
}

/** The one original with this PAN + field 37 (and field 38 when sent), 'AMBIGUOUS', or null. */
async function byRetrievalReference(ctx: ProcessContext, f: IsoFields, card: CardRecord, named: string | null): Promise<string | 'AMBIGUOUS' | null> {
  const rrn = text(f, 37);
  if (rrn === undefined) return null;
  const f38 = text(f, 38);
  const candidates = (await ctx.records.byRetrievalReference(card.balanceId, card.id, rrn))
    .filter((c) => c !== named && (f38 === undefined || authorizationId(c) === f38));
  if (candidates.length > 1) return 'AMBIGUOUS';
  return candidates[0] ?? null;
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

/** What the ledger needs to post an advice, or the reason it cannot be posted. */
async function readAdvice(ctx: ProcessContext, m: Inbound): Promise<Advice | Reason> {
  const f = m.fields;
  const pan = text(f, 2);
  const stan = text(f, 11);
  const f7 = text(f, 7);
  const kind = kindOf(text(f, 3));
  const amount = amountMinor(text(f, 4));
  if (pan === undefined || stan === undefined || f7 === undefined) return 'FORMAT_ERROR';
  if (kind === undefined) return 'UNKNOWN_TRANSACTION_TYPE';
  if (kind !== 'INQUIRY' && !(amount > 0)) return 'INVALID_AMOUNT';
  const card = await (m.cardLookup ?? ctx.cards.findByPan(pan));
  if (card === null) return 'CARD_NOT_FOUND';
  m.o.card = card;
  const program = ctx.programs.byId(card.configId);
  const n3 = currencyNumeric(card.currency);
  if (program === undefined || n3 === undefined) return 'UNKNOWN_ERROR';
  const txId = transactionId(card.id, m.mti, f7, stan, text(f, 32) ?? '', text(f, 41));
  m.o.txId = txId;
  const nowMs = ctx.now();
  if (kind === 'INQUIRY') return { kind, card, program, depositId: null, txId, amountMinor: 0, priced: null, companyId: null, nowMs };
  const priced = price(f, program, card.currency, n3, amount);
  if (typeof priced === 'string') return priced;
  m.o.priced = priced;
  m.o.amountMinor = priced.amountMinor;
  const depositId = await depositFor(ctx, program, card.currency);
  const charged = kind === 'DEBIT' && priced.feeMinor + priced.fxFeeMinor > 0;
  const companyId = charged ? await partnerFor(ctx, program, 'COMPANY', card.currency) : null;
  return { kind, card, program, depositId, txId, amountMinor: priced.amountMinor, priced: kind === 'DEBIT' ? priced : null, companyId, nowMs };
}

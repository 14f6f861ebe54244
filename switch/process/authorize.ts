// 0100 authorization (dual message): check the card, then one deposit-then-user hold in the
// ledger. Checks that need no round trip come first (fields present, processing code, amount);
// then the card (unknown, locked, inactive, expired), the customer (transactional lock, carried
// on the card), the currency and the deposit; then the money.
import type { IsoMessage } from '../iso/codec.js';
import type { ProcessContext } from './context.js';
import type { CardRecord } from '../cards.js';
import type { Program } from '../programs.js';
import { LOCK_REASONS, REASONS, responseCode, type Reason } from '../reasons.js';
import { currencyNumeric } from '../currency.js';
import { answer, ECHO_FIELDS } from './respond.js';
import { amountMinor, authorizationId, balanceEntry, text, transactionId } from './wire.js';

const DAY_MS = 86_400_000;
/** Processing codes (first two digits of field 3) handled as debits on this path. */
const DEBIT_CODES = new Set(['00', '01', '09']);

export async function authorize(ctx: ProcessContext, m: IsoMessage, mti: string): Promise<IsoMessage> {
  const f = m.fields;
  const pan = text(f, 2);
  const proc = text(f, 3);
  const amount = amountMinor(text(f, 4));
  const stan = text(f, 11);
  const f7 = text(f, 7);
  if (pan === undefined || proc === undefined || stan === undefined || f7 === undefined) {
    return decline(ctx, m, mti, 'FORMAT_ERROR');
  }
  if (!DEBIT_CODES.has(proc.slice(0, 2))) return decline(ctx, m, mti, 'UNKNOWN_TRANSACTION_TYPE');
  if (!(amount > 0)) return decline(ctx, m, mti, 'INVALID_AMOUNT');

  const card = await ctx.cards.findByPan(pan);
  if (card === null) return decline(ctx, m, mti, 'CARD_NOT_FOUND');
  const cardReason = checkCard(card, text(f, 14));
  if (cardReason !== null) return decline(ctx, m, mti, cardReason);
  // The customer's transactional locks, denormalized onto the card (switch/customers.ts).
  if (card.debitsBlocked) return decline(ctx, m, mti, 'AML_EXCEPTION');
  const program = ctx.programs.byId(card.configId);
  if (program === undefined) return decline(ctx, m, mti, 'UNKNOWN_ERROR');
  const currencyN3 = currencyNumeric(card.currency);
  if (currencyN3 === undefined || text(f, 49) !== currencyN3) return decline(ctx, m, mti, 'CURRENCY_MISMATCH');

  const depositId = await depositFor(ctx, program, card.currency);
  if (depositId === null && program.depositRequired) return decline(ctx, m, mti, 'DEPOSIT_BALANCE_NOT_FOUND');

  const txId = transactionId(card.id, f7, stan, text(f, 32) ?? '');
  const now = ctx.now();
  const held = await ctx.ledger.hold({
    idempotencyKey: `auth:${txId}`, txId, balanceId: card.balanceId, depositId,
    amountMinor: amount, expiresAtMs: now + expiryDays(program, text(f, 18)) * DAY_MS, nowMs: now,
  });
  const reason: Reason = held.approved ? 'APPROVED' : toReason(held.reason);
  const res = answer(f, mti, ECHO_FIELDS, responseCode(reason, ctx.dialect));
  if (held.approved) res.fields.set(38, authorizationId(txId));
  res.fields.set(54,
    balanceEntry('01', currencyN3, held.availableMinor + held.blockedMinor) +
    balanceEntry('02', currencyN3, held.availableMinor));
  return res;
}

export function decline(ctx: ProcessContext, m: IsoMessage, mti: string, reason: Reason): IsoMessage {
  return answer(m.fields, mti, ECHO_FIELDS, responseCode(reason, ctx.dialect));
}

/** Card-level reasons, or null when the card may be used. Field 14 must match the card's expiry and not be past. */
export function checkCard(card: CardRecord, f14: string | undefined): Reason | null {
  if (card.lock !== 0) return LOCK_REASONS[card.lock] ?? 'UNKNOWN_ERROR';
  if (card.status !== 'ACTIVE') return 'CARD_LOCK_5_CARD_INACTIVE';
  if (f14 !== undefined && (f14 !== card.expiry || isPast(f14))) return 'EXPIRED_CARD';
  if (f14 === undefined && isPast(card.expiry)) return 'EXPIRED_CARD';
  return null;
}

function isPast(yymm: string): boolean {
  const now = new Date();
  const cur = (now.getUTCFullYear() % 100) * 100 + now.getUTCMonth() + 1;
  return Number(yymm) < cur;
}

function expiryDays(p: Program, mcc: string | undefined): number {
  return (mcc !== undefined ? p.holdExpiryDaysByMcc[mcc] : undefined) ?? p.holdExpiryDays;
}

function toReason(ledgerReason: string): Reason {
  return ledgerReason in REASONS ? (ledgerReason as Reason) : 'UNKNOWN_ERROR';
}

const DEPOSIT_ABSENT_RECHECK_MS = 1000;

/** The program's DEPOSIT partner balance in this currency, cached per thread (ids never change). */
async function depositFor(ctx: ProcessContext, program: Program, currency: string): Promise<string | null> {
  const key = program.configId + ':' + currency;
  const hit = ctx.depositIds.get(key);
  const now = ctx.now();
  if (hit !== undefined && (hit.id !== null || now - hit.checkedAtMs < DEPOSIT_ABSENT_RECHECK_MS)) return hit.id;
  const found = await ctx.ledger.findPartnerBalance(program.configId, 'DEPOSIT', currency);
  const id = found === null ? null : found.id;
  ctx.depositIds.set(key, { id, checkedAtMs: now });
  return id;
}

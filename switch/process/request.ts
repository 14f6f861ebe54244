// The checks every money-moving request (0100, 0200) passes before the ledger is asked, in order:
// fields present, processing code, amount; the card (unknown, locked, inactive, expired), the
// customer (transactional lock, carried on the card), the currency and the deposit. Which checks
// apply depends on the kind of transaction: a credit is stopped only by an irreversible lock
// (SPEC §2.2), a balance inquiry moves no money and may carry a zero amount.
import type { ProcessContext } from './context.js';
import type { Inbound } from './outcome.js';
import type { CardRecord } from '../cards.js';
import { IRREVERSIBLE_LOCK_CODES } from '../cards.js';
import type { Program } from '../programs.js';
import { LOCK_REASONS, type Reason } from '../reasons.js';
import { currencyNumeric } from '../currency.js';
import { amountMinor, text, transactionId } from './wire.js';
import { dailyLimits, perTransactionLimit, price, type Priced } from './pricing.js';
import type { DailyLimits } from '../../ledger/index.js';

export type TxKind = 'DEBIT' | 'REFUND' | 'PAYMENT_CREDIT' | 'INQUIRY';

/** Processing code (first two digits of field 3) → kind of transaction (SPEC §2.2). Anything else: 12. */
const KINDS: ReadonlyMap<string, TxKind> = new Map([
  ['00', 'DEBIT'], ['01', 'DEBIT'], ['09', 'DEBIT'],
  ['20', 'REFUND'], ['28', 'PAYMENT_CREDIT'], ['30', 'INQUIRY'],
]);

export function kindOf(proc: string | undefined): TxKind | undefined {
  return proc === undefined ? undefined : KINDS.get(proc.slice(0, 2));
}

export function isCredit(kind: TxKind): boolean {
  return kind === 'REFUND' || kind === 'PAYMENT_CREDIT';
}

/** A request that passed every check: what the ledger call needs. */
export interface Checked {
  kind: TxKind;
  card: CardRecord;
  program: Program;
  currencyN3: string;
  depositId: string | null;
  /** This message's own transaction id (wire.ts). */
  txId: string;
  /** In the balance's currency (converted when field 49 differs), fees apart. */
  amountMinor: number;
  /** Debits and credits: the amount, fees and FX; null for an inquiry. */
  priced: Priced | null;
  /** The COMPANY partner balance receiving fees, or null (fees then go to the ledger's income account). */
  companyId: string | null;
  /** Debits: the card's daily limits for the ledger to check and count. */
  limits: DailyLimits | undefined;
  nowMs: number;
  /** When deciding this message began: its latency budget counts from here (deadline.ts). */
  startedMs: number;
}

/** The checks of a request, or the one reason it is declined with (m.o learns the card and the pricing). */
export async function checkRequest(ctx: ProcessContext, m: Inbound): Promise<Checked | Reason> {
  const startedMs = m.takenMs;
  const f = m.fields;
  const pan = text(f, 2);
  const stan = text(f, 11);
  const f7 = text(f, 7);
  const proc = text(f, 3);
  if (pan === undefined || proc === undefined || stan === undefined || f7 === undefined) return 'FORMAT_ERROR';
  const kind = kindOf(proc);
  if (kind === undefined) return 'UNKNOWN_TRANSACTION_TYPE';
  // Zero is allowed only in a balance inquiry, where field 4 may also be absent.
  const amount = kind === 'INQUIRY' && text(f, 4) === undefined ? 0 : amountMinor(text(f, 4));
  if (!(amount > 0 || (kind === 'INQUIRY' && amount === 0))) return 'INVALID_AMOUNT';

  const card = await (m.cardLookup ?? ctx.cards.findByPan(pan));
  if (card === null) return 'CARD_NOT_FOUND';
  m.o.card = card;
  const cardReason = checkCardFor(kind, card, text(f, 14));
  if (cardReason !== null) return cardReason;
  const program = ctx.programs.byId(card.configId);
  if (program === undefined) return 'UNKNOWN_ERROR';
  const currencyN3 = currencyNumeric(card.currency);
  if (currencyN3 === undefined) return 'CURRENCY_MISMATCH';
  const txId = transactionId(card.id, m.mti, f7, stan, text(f, 32) ?? '', text(f, 41));
  m.o.txId = txId;
  const nowMs = ctx.now();
  if (kind === 'INQUIRY') {
    return { kind, card, program, currencyN3, depositId: null, txId, amountMinor: 0, priced: null, companyId: null, limits: undefined, nowMs, startedMs };
  }
  // Money moves in the balance's currency: field 49 is converted when it differs (SPEC §4).
  const priced = price(f, program, card.currency, currencyN3, amount);
  if (typeof priced === 'string') return priced;
  m.o.priced = priced;
  m.o.amountMinor = priced.amountMinor;
  const depositId = await depositFor(ctx, program, card.currency);
  if (kind !== 'DEBIT') {
    return { kind, card, program, currencyN3, depositId, txId, amountMinor: priced.amountMinor, priced, companyId: null, limits: undefined, nowMs, startedMs };
  }
  if (depositId === null && program.depositRequired) return 'DEPOSIT_BALANCE_NOT_FOUND';
  const perTx = perTransactionLimit(card, program);
  if (perTx !== null && priced.amountMinor > perTx) return 'EXCEEDS_AMOUNT_LIMIT';
  const companyId = priced.feeMinor + priced.fxFeeMinor > 0 ? await partnerFor(ctx, program, 'COMPANY', card.currency) : null;
  return {
    kind, card, program, currencyN3, depositId, txId, amountMinor: priced.amountMinor, priced, companyId,
    limits: dailyLimits(card, program, priced.channel, nowMs), nowMs, startedMs,
  };
}

function checkCardFor(kind: TxKind, card: CardRecord, f14: string | undefined): Reason | null {
  if (isCredit(kind)) return checkCardForCredit(card);
  const reason = checkCard(card, f14);
  if (reason !== null) return reason;
  // The customer's transactional locks, denormalized onto the card (switch/customers.ts), stop debits only.
  return kind === 'DEBIT' && card.debitsBlocked ? 'AML_EXCEPTION' : null;
}

/** Card-level reasons for a debit or inquiry, or null. Field 14 must match the card's expiry and not be past. */
export function checkCard(card: CardRecord, f14: string | undefined): Reason | null {
  if (card.lock !== 0) return LOCK_REASONS[card.lock] ?? 'UNKNOWN_ERROR';
  if (card.status !== 'ACTIVE') return 'CARD_LOCK_5_CARD_INACTIVE';
  if (f14 !== undefined && (f14 !== card.expiry || isPast(f14))) return 'EXPIRED_CARD';
  if (f14 === undefined && isPast(card.expiry)) return 'EXPIRED_CARD';
  return null;
}

/**
 * A credit is stopped only by the irreversible locks (lost, stolen, inactive, replaced) and by a
 * physical card not yet activated (lock 5's reason); other locks and the expiry do not stop it:
 * a refund may reach a card after it expired.
 */
function checkCardForCredit(card: CardRecord): Reason | null {
  if (IRREVERSIBLE_LOCK_CODES.includes(card.lock)) return LOCK_REASONS[card.lock] ?? 'UNKNOWN_ERROR';
  if (card.status !== 'ACTIVE') return 'CARD_LOCK_5_CARD_INACTIVE';
  return null;
}

function isPast(yymm: string): boolean {
  const now = new Date();
  const cur = (now.getUTCFullYear() % 100) * 100 + now.getUTCMonth() + 1;
  return Number(yymm) < cur;
}

const DEPOSIT_ABSENT_RECHECK_MS = 1000;

/** The program's DEPOSIT partner balance in this currency, or null. */
export function depositFor(ctx: ProcessContext, program: Program, currency: string): Promise<string | null> {
  return partnerFor(ctx, program, 'DEPOSIT', currency);
}

/** A partner balance of the program, cached per thread (ids never change once created; absence is re-checked after a second). */
export async function partnerFor(ctx: ProcessContext, program: Program, type: 'DEPOSIT' | 'COMPANY', currency: string): Promise<string | null> {
  const key = type + ':' + program.configId + ':' + currency;
  const hit = ctx.depositIds.get(key);
  const now = ctx.now();
  if (hit !== undefined && (hit.id !== null || now - hit.checkedAtMs < DEPOSIT_ABSENT_RECHECK_MS)) return hit.id;
  const found = await ctx.ledger.findPartnerBalance(program.configId, type, currency);
  const id = found === null ? null : found.id;
  ctx.depositIds.set(key, { id, checkedAtMs: now });
  return id;
}

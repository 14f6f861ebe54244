// What a money message is about, read once: fields present, processing code, amount, the card,
// its program, the transaction id, the price in the balance's currency, the partner balances;
// and, for requests (0100, 0200), the checks they pass before the ledger is asked, in order:
// the card (unknown, locked, inactive, expired), the customer (transactional lock, carried on the
// card), the card data (CVV2, track, PIN, ARQC: cardauth/check.ts), the deposit, the
// per-transaction limit. A swipe need not carry field 2: the PAN and expiry are then the track's. Which checks apply depends on the kind of
// transaction: a credit is stopped only by an irreversible lock (SPEC §2.2), a balance inquiry
// moves no money and may carry a zero amount, and a zero-amount purchase authorization is an
// account verification: the card checks, nothing else.
//
// The result is a value: `Checked` (go on to the ledger) or `Refused` (the one reason, with what
// was learned on the way so that the record shows the card, the transaction id and the amount).
import type { ProcessContext } from './context.js';
import type { Request } from './decision.js';
import type { CardRecord } from '../../stores/cards.js';
import { IRREVERSIBLE_LOCK_CODES } from '../../stores/cards.js';
import type { Program } from '../../stores/programs.js';
import { LOCK_REASONS, type Reason } from '../../iso/reasons.js';
import { currencyNumeric } from '../../iso/currency.js';
import { amountMinor, MAX_AMOUNT_MINOR, text, transactionId } from '../../iso/wire.js';
import { dailyLimits, perTransactionLimit, price, type Priced } from './pricing.js';
import { isCredit, type ProcessingCode, type TxKind } from '../../iso/processing.js';
import { PreconditionFailedError, type DailyLimits } from '../../ledger/index.js';
import { cardDataOf, isFieldError, messageExpiry, messagePan, trackOf, type FieldError } from '../../cardauth/fields.js';
import { verifyCardholder } from '../../cardauth/check.js';
import { logCardDataRefusal } from '../../cardauth/run.js';
import type { IssuerAuthentication } from '../../cardauth/keys.js';

/** A message that may go on to the ledger: what the ledger call needs. */
export interface Checked {
  readonly refused: false;
  readonly kind: TxKind;
  readonly pc: ProcessingCode;
  readonly card: CardRecord;
  readonly program: Program;
  readonly currencyN3: string;
  readonly depositId: string | null;
  /** This message's own transaction id (wire.ts). */
  readonly txId: string;
  /**
   * The same transaction named without field 41, when the message has one: a reversal that came
   * first without field 41 is remembered under this id (SPEC §2.3, keyed by what field 90 names).
   */
  readonly orphanTxId: string | undefined;
  /** In the balance's currency (converted when field 49 differs), fees apart. */
  readonly amountMinor: number;
  /** Debits and credits: the amount, fees and FX; null for an inquiry or an account verification. */
  readonly priced: Priced | null;
  /** The COMPANY partner balance receiving fees, or null (fees then go to the ledger's income account). */
  readonly companyId: string | null;
  /** Debit requests: the card's daily limits for the ledger to check and count. */
  readonly limits: DailyLimits | undefined;
  /** Field 18, for the per-MCC hold expiry. */
  readonly mcc: string | undefined;
  /** A zero-amount 0100 purchase: verify the card, move nothing (SPEC §2.2). */
  readonly accountVerification: boolean;
  readonly nowMs: number;
  /** When deciding this message began: its latency budget counts from here (deadline.ts). */
  readonly startedMs: number;
  /** Set when the message's ARQC verified: the answer carries an ARPC (render.ts). */
  readonly issuerAuth: IssuerAuthentication | null;
}

/** A message refused before the ledger, with what was learned on the way (for its record). */
export interface Refused {
  readonly refused: true;
  readonly reason: Reason;
  readonly card: CardRecord | null;
  readonly txId: string | null;
  readonly amountMinor: number;
  readonly priced: Priced | null;
  /** What failed, for a card-data decline (never the datum); null otherwise. */
  readonly detail: string | null;
  /** Set when the message's ARQC verified before the refusal: the answer still carries an ARPC. */
  readonly issuerAuth: IssuerAuthentication | null;
}

/** A card read again after a verification found it changed under the decision: at most this many times. */
const FRESH_READS_MAX = 2;

/** The checks of a request (0100, 0200), or the one reason it is refused with. */
export function checkRequest(ctx: ProcessContext, req: Request): Promise<Checked | Refused> {
  return examine(ctx, req, true);
}

/** What an advice (0120, 0220) needs to be posted; advices are never declined, so only what makes posting impossible refuses it. */
export function readAdvice(ctx: ProcessContext, req: Request): Promise<Checked | Refused> {
  return examine(ctx, req, false);
}

async function examine(ctx: ProcessContext, req: Request, isRequest: boolean, freshReads = 0): Promise<Checked | Refused> {
  const f = req.msg.fields;
  const pan = messagePan(f);
  const stan = text(f, 11);
  const f7 = text(f, 7);
  const f4 = text(f, 4);
  const wireAmount = amountMinor(f4);
  // The card is known before any check refuses, so every record names it and its transaction.
  const card = pan === undefined ? null : await (req.card ?? ctx.cards.findByPan(pan));
  const txId = card === null || stan === undefined || f7 === undefined ? null : transactionId(card.id, req.msg.mti, f7, stan, text(f, 32) ?? '', text(f, 41));
  let learned: Omit<Refused, 'reason' | 'refused' | 'detail'> = { card, txId, amountMinor: wireAmount > 0 ? wireAmount : 0, priced: null, issuerAuth: null };
  const refuse = (reason: Reason, detail: string | null = null): Refused => ({ refused: true, reason, detail, ...learned });

  if (pan === undefined || stan === undefined || f7 === undefined || (isRequest && text(f, 3) === undefined)) {
    const track = trackOf(f);
    if (track !== null && isFieldError(track)) return malformed(req, track, card, refuse);
    return refuse('FORMAT_ERROR');
  }
  // Card data (fields 23, 35, 48, 52, 55) of a request: malformed is a format error naming the field.
  const cardData = isRequest ? cardDataOf(f) : null;
  if (cardData !== null && isFieldError(cardData)) return malformed(req, cardData, card, refuse);
  const pc = req.pc;
  if (pc === undefined) return refuse('UNKNOWN_TRANSACTION_TYPE');
  const kind = pc.kind;
  // Zero is allowed in a balance inquiry (where field 4 may be absent) and in an account
  // verification (a zero-amount 0100 purchase); field 4 is n12, so it is never above the maximum.
  const inquiry = kind === 'INQUIRY';
  const verification = isRequest && req.cls.kind === 'AUTHORIZATION' && pc.code === '00' && wireAmount === 0;
  const amount = inquiry && f4 === undefined ? 0 : wireAmount;
  if (!(amount > 0 || (amount === 0 && (inquiry || verification)))) return refuse('INVALID_AMOUNT');

  if (card === null) return refuse('CARD_NOT_FOUND');
  if (isRequest) {
    const cardReason = checkCardFor(kind, card, messageExpiry(f));
    if (cardReason !== null) return refuse(cardReason);
  }
  const program = ctx.programs.byId(card.configId);
  if (program === undefined) return refuse('UNKNOWN_ERROR');
  if (cardData !== null && !isFieldError(cardData)) {
    // Card and cardholder authentication: after the card checks, before any money moves or any partner is asked.
    const v = await verifyCardholder(ctx.keys, ctx.cards, {
      data: { ...cardData, pan }, card, policy: program.cardholderVerification, kind, processingCode: pc.code, messageId: txId!,
      fresh: req.guard === undefined,
    });
    if (!v.ok && v.stale) {
      // The card changed under the check (or was remembered): decide again from a fresh read.
      if (req.guard !== undefined) throw new PreconditionFailedError('CHANGED');
      if (freshReads >= FRESH_READS_MAX) return refuse('UNKNOWN_ERROR');
      return examine(ctx, { ...req, card: ctx.cards.findByPan(pan) }, isRequest, freshReads + 1);
    }
    learned = { ...learned, issuerAuth: v.issuerAuth };
    if (!v.ok) {
      logCardDataRefusal({ reason: v.reason, detail: v.detail, mti: req.msg.mti, stan, cardId: card.id, pan });
      return refuse(v.reason, v.detail);
    }
  }
  const currencyN3 = currencyNumeric(card.currency);
  if (currencyN3 === undefined) return refuse('CURRENCY_MISMATCH');
  const nowMs = ctx.now();
  const terminal = text(f, 41);
  const orphanTxId = terminal === undefined ? undefined : transactionId(card.id, req.msg.mti, f7, stan, text(f, 32) ?? '', undefined);
  const base = {
    refused: false as const, kind, pc, card, program, currencyN3, txId: txId!, orphanTxId, mcc: text(f, 18), nowMs, startedMs: req.takenMs,
    issuerAuth: learned.issuerAuth,
  };
  if (inquiry || verification) {
    return { ...base, depositId: null, amountMinor: 0, priced: null, companyId: null, limits: undefined, accountVerification: verification };
  }
  // Money moves in the balance's currency: field 49 is converted when it differs (SPEC §4).
  const priced = price(f, program, card.currency, currencyN3, amount);
  if (typeof priced === 'string') return refuse(priced);
  learned = { ...learned, priced, amountMinor: priced.amountMinor };
  // SPEC §2.2: no amount or balance beyond n12; a converted amount (with its fees) past it can never be held.
  if (priced.amountMinor + priced.feeMinor + priced.fxFeeMinor > MAX_AMOUNT_MINOR) return refuse('INVALID_AMOUNT');
  const depositId = await partnerFor(ctx, program, 'DEPOSIT', card.currency);
  const charged = kind === 'DEBIT' && priced.feeMinor + priced.fxFeeMinor > 0;
  if (kind !== 'DEBIT') {
    return { ...base, depositId, amountMinor: priced.amountMinor, priced, companyId: null, limits: undefined, accountVerification: false };
  }
  if (isRequest) {
    if (depositId === null && program.depositRequired) return refuse('DEPOSIT_BALANCE_NOT_FOUND');
    const perTx = perTransactionLimit(card, program);
    if (perTx !== null && priced.amountMinor > perTx) return refuse('EXCEEDS_AMOUNT_LIMIT');
  }
  const companyId = charged ? await partnerFor(ctx, program, 'COMPANY', card.currency) : null;
  return {
    ...base, depositId, amountMinor: priced.amountMinor, priced, companyId, accountVerification: false,
    limits: isRequest ? dailyLimits(card, program, priced.channel, nowMs) : undefined,
  };
}

/** A request whose card data does not parse: FORMAT_ERROR, with a log line naming the field (never its content). */
function malformed(req: Request, e: FieldError, card: CardRecord | null, refuse: (reason: Reason, detail: string) => Refused): Refused {
  const detail = `field ${e.field}: ${e.reason}`;
  logCardDataRefusal({ reason: 'FORMAT_ERROR', detail, mti: req.msg.mti, stan: text(req.msg.fields, 11), cardId: card?.id ?? null, pan: messagePan(req.msg.fields) });
  return refuse('FORMAT_ERROR', detail);
}

function checkCardFor(kind: TxKind, card: CardRecord, f14: string | undefined): Reason | null {
  if (isCredit(kind)) return checkCardForCredit(card);
  const reason = checkCard(card, f14);
  if (reason !== null) return reason;
  // The customer's transactional locks, denormalized onto the card (stores/customers.ts), stop
  // debits and account verifications; a balance inquiry still answers.
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

const PARTNER_ABSENT_RECHECK_MS = 1000;

/** A partner balance of the program, cached per thread (ids never change once created; absence is re-checked after a second). */
export async function partnerFor(ctx: ProcessContext, program: Program, type: 'DEPOSIT' | 'COMPANY', currency: string): Promise<string | null> {
  const key = type + ':' + program.configId + ':' + currency;
  const hit = ctx.depositIds.get(key);
  const now = ctx.now();
  if (hit !== undefined && (hit.id !== null || now - hit.checkedAtMs < PARTNER_ABSENT_RECHECK_MS)) return hit.id;
  const found = await ctx.ledger.findPartnerBalance(program.configId, type, currency);
  const id = found === null ? null : found.id;
  ctx.depositIds.set(key, { id, checkedAtMs: now });
  return id;
}

// The checks a money message passes before any effect, in order (the decline table of
// docs/messages.md): fields present, processing code, amount, the card (unknown, locked,
// inactive, expired), the customer's transactional lock (carried on the card), the price in the
// balance's currency, the deposit, the per-transaction limit. Which apply depends on the kind of
// transaction: a credit is stopped only by an irreversible lock, a balance inquiry moves no money
// and may carry a zero amount, and a zero-amount purchase authorization is an account
// verification: the card checks, nothing else. An advice (0120, 0220) is never declined, so only
// what makes posting it impossible refuses it.
//
// Pure: a function of the request and the facts read for it (plan/types.ts Facts).
import type { Request } from '../decision.js';
import type { CardRecord } from '../../../stores/cards.js';
import { isIrreversibleLock } from '../../../stores/cards.js';
import { LOCK_REASONS, type Reason } from '../../../iso/reasons.js';
import { currencyNumeric } from '../../../iso/currency.js';
import { amountMinor, mtiClass, namedTransactionId, originalData, ownTransactionId, text } from '../../../iso/wire.js';
import { cardDataOf, isFieldError, messageExpiry, messagePan, trackOf, type CardData } from '../../../cardauth/fields.js';
import { cardFacts, planVerification } from '../../../cardauth/verify.js';
import { MAX_AMOUNT_MINOR } from '../../../ledger/index.js';
import { isCredit, type TxKind } from '../../../iso/processing.js';
import { dailyLimits, perTransactionLimit, price } from './pricing.js';
import type { CardVerification, Checked, Facts, Refused } from './types.js';
import { controlSubject, evaluateControls, velocityCounters, type ControlHit } from './controls.js';

/**
 * The checks of a request (0100, 0200; `isRequest` true) or an advice (0120, 0220): the checked
 * message, or the one reason it is refused with.
 */
export function examine(req: Request, facts: Facts, isRequest: boolean): Checked | Refused {
  const f = req.msg.fields;
  const card = facts.card;
  const f4 = text(f, 4);
  const wireAmount = amountMinor(f4);
  // The card is known before any check refuses, so every record names it and its transaction.
  const txId = card === null ? null : ownTransactionId(card.id, req.msg.mti, f);
  let priced: Refused['priced'] = null;
  let learnedAmount = wireAmount > 0 ? wireAmount : 0;
  const refuse = (reason: Reason, fault: Refused['fault'] = null, detail: string | null = null): Refused => ({ reason, fault, detail, card, txId, amountMinor: learnedAmount, priced });

  // A swipe need not carry field 2: the PAN (and the expiry) are then its track's.
  const track = trackOf(f);
  if (track !== null && isFieldError(track)) return refuse('FORMAT_ERROR', { field: 35, problem: track.reason }, `field 35: ${track.reason}`);
  if (messagePan(f) === undefined) return refuse('FORMAT_ERROR', { field: 2, problem: 'required and absent (and no track 2)' });
  const absent = REQUIRED_FIELDS.find((n) => text(f, n) === undefined && (n !== 3 || isRequest));
  if (absent !== undefined) return refuse('FORMAT_ERROR', { field: absent, problem: 'required and absent' });
  // Card data (fields 23, 35, 48, 52, 55) of a request: malformed is a format error naming the field.
  const cardData = isRequest ? cardDataOf(f) : null;
  if (cardData !== null && isFieldError(cardData)) return refuse('FORMAT_ERROR', { field: cardData.field, problem: cardData.reason }, `field ${cardData.field}: ${cardData.reason}`);
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
    const cardReason = checkCardFor(kind, card, messageExpiry(f), facts.nowMs);
    if (cardReason !== null) return refuse(cardReason);
  }
  const program = facts.program;
  if (program === undefined) return refuse('UNKNOWN_ERROR');
  // Card and cardholder authentication (cardauth/verify.ts): what the policy requires and which
  // checks run; a required datum absent, a track not the card's, no PIN set are refused here.
  let verify: CardVerification | null = null;
  if (cardData !== null) {
    const v = planVerification({ data: cardData, card: cardFacts(card), policy: program.cardholderVerification, kind, processingCode: pc.code });
    if (v.steps.length === 0 && v.refusal !== null) return refuse(v.refusal.reason, null, v.refusal.detail);
    if (v.steps.length > 0) verify = verificationOf(v, card, cardData, txId!);
  }
  const partialAccepted = cardData !== null && cardData.additional.partialApproval;
  // An 0100 debit whose field 90 names an authorization (original MTI 0100) adds to that hold.
  const named = isRequest && req.cls.kind === 'AUTHORIZATION' && kind === 'DEBIT' ? originalData(text(f, 90)) : null;
  const incrementOf = named !== null && mtiClass(named.mti) === '010' ? namedTransactionId(card.id, f) : null;
  const currencyN3 = currencyNumeric(card.currency);
  if (currencyN3 === undefined) return refuse('CURRENCY_MISMATCH');
  // Every key of a Checked is in `base`, so that the returns below only override keys: V8 copies
  // an object spread that adds keys on a slow path (~2 µs a key on Node 20), one that overrides
  // them on its fast path.
  const base: Checked = {
    kind, pc, card, program, currencyN3, txId: txId!, orphanTxId: text(f, 41) === undefined ? undefined : ownTransactionId(card.id, req.msg.mti, f, false) ?? undefined,
    mcc: text(f, 18), nowMs: facts.nowMs, startedMs: req.takenMs, verify, partialAccepted, incrementOf,
    depositId: null, amountMinor: 0, priced: null, companyId: null, limits: undefined, wouldDecline: null, accountVerification: false,
  };
  if (inquiry || verification) {
    return { ...base, depositId: null, amountMinor: 0, priced: null, companyId: null, limits: undefined, wouldDecline: null, accountVerification: verification };
  }
  // Money moves in the balance's currency: field 49 is converted when it differs.
  const p = price(f, program, card.currency, currencyN3, amount);
  if (typeof p === 'string') return refuse(p);
  priced = p;
  learnedAmount = p.amountMinor;
  // No amount or balance beyond n12: a converted amount (with its fees) past it can never be held.
  if (p.amountMinor + p.feeMinor + p.fxFeeMinor > MAX_AMOUNT_MINOR) return refuse('INVALID_AMOUNT');
  const depositId = facts.depositId;
  if (kind !== 'DEBIT') {
    return { ...base, depositId, amountMinor: p.amountMinor, priced: p, companyId: null, limits: undefined, wouldDecline: null, accountVerification: false };
  }
  if (isRequest) {
    if (depositId === null && program.depositRequired) return refuse('DEPOSIT_BALANCE_NOT_FOUND');
    const perTx = perTransactionLimit(card, program);
    if (perTx !== null && p.amountMinor > perTx) return refuse('EXCEEDS_AMOUNT_LIMIT');
  }
  // Spend controls of the card and its program (plan/controls.ts): list rules and a transaction's
  // amount decided here; velocity windows counted exactly inside the hold.
  let wouldDecline: ControlHit | null = null;
  let limits = isRequest ? dailyLimits(card, program, p.channel, facts.nowMs) : undefined;
  if (isRequest && (card.controls.length > 0 || program.controls.length > 0)) {
    const subject = controlSubject(f, pc.code, p.amountMinor);
    const verdict = evaluateControls(card.controls, program.controls, subject);
    if (verdict.decline !== null) return refuse(verdict.decline.reason);
    wouldDecline = verdict.wouldDecline;
    const counters = velocityCounters(card.controls, program.controls, subject.scope, facts.nowMs);
    if (counters.length > 0) limits = { cardId: card.id, scope: subject.scope, counters: limits === undefined ? counters : [...limits.counters, ...counters] };
  }
  const charged = p.feeMinor + p.fxFeeMinor > 0;
  return {
    ...base, depositId, amountMinor: p.amountMinor, priced: p, companyId: charged ? facts.companyId : null, accountVerification: false,
    limits, wouldDecline,
  };
}

/** Fields every money message carries besides its PAN (field 3 only in a request: an advice without it is posted as it can be). */
const REQUIRED_FIELDS: readonly number[] = [3, 7, 11];

/** What the executor needs to run a verification plan for this card and message (cardauth/run.ts). */
function verificationOf(plan: ReturnType<typeof planVerification>, card: Checked['card'], data: CardData, messageId: string): CardVerification {
  return {
    plan, configId: card.configId, cardId: card.id, pan: data.pan!, expiry: card.expiry, acquirer: data.acquirer ?? '', panSequence: data.panSequence,
    pinFailures: card.pinFailures, cvv2Failures: card.cvv2Failures, pvv: card.pvv, cvv2Generation: card.cvv2Generation, messageId,
  };
}

/** A Checked or a Refused: which one. */
export function isRefused(c: Checked | Refused): c is Refused {
  return 'reason' in c;
}

function checkCardFor(kind: TxKind, card: CardRecord, f14: string | undefined, nowMs: number): Reason | null {
  if (isCredit(kind)) return checkCardForCredit(card);
  const reason = checkCard(card, f14, nowMs);
  if (reason !== null) return reason;
  // The customer's transactional locks, denormalized onto the card (stores/customers.ts), stop
  // debits and account verifications; a balance inquiry still answers.
  return kind === 'DEBIT' && card.debitsBlocked ? 'AML_EXCEPTION' : null;
}

/** Card-level reasons for a debit or inquiry, or null. Field 14 must match the card's expiry and not be past. */
export function checkCard(card: CardRecord, f14: string | undefined, nowMs: number): Reason | null {
  if (card.lock !== 0) return LOCK_REASONS[card.lock] ?? 'UNKNOWN_ERROR';
  if (card.status !== 'ACTIVE') return 'CARD_LOCK_5_CARD_INACTIVE';
  if (f14 !== undefined && (f14 !== card.expiry || isPast(f14, nowMs))) return 'EXPIRED_CARD';
  if (f14 === undefined && isPast(card.expiry, nowMs)) return 'EXPIRED_CARD';
  return null;
}

/**
 * A credit is stopped only by the irreversible locks (lost, stolen, inactive, replaced) and by a
 * physical card not yet activated (lock 5's reason); other locks and the expiry do not stop it:
 * a refund may reach a card after it expired.
 */
function checkCardForCredit(card: CardRecord): Reason | null {
  if (isIrreversibleLock(card.lock)) return LOCK_REASONS[card.lock] ?? 'UNKNOWN_ERROR';
  if (card.status !== 'ACTIVE') return 'CARD_LOCK_5_CARD_INACTIVE';
  return null;
}

/** A YYMM expiry is past once its month has ended (UTC). */
function isPast(yymm: string, nowMs: number): boolean {
  const now = new Date(nowMs);
  const cur = (now.getUTCFullYear() % 100) * 100 + now.getUTCMonth() + 1;
  return Number(yymm) < cur;
}

// Conclusions: what a plan and its outcome decide. Each is a pure function of the request, the
// plan's checked message and what the executor reports (plan/types.ts outcomes), so every answer
// can be read, and tested, from a table: no Redis, no partner, no clock.
import { decide, type Decision, type FieldFault, type Request } from '../decision.js';
import { fromLedger, type Reason } from '../../../iso/reasons.js';
import { ACCOUNT_VERIFICATION_TYPE, REVERSAL_TYPE } from '../../../iso/processing.js';
import type { IssuerAuthentication } from '../../../cardauth/keys.js';
import { controlIdOfCounter } from './controls.js';
import { partialPrice } from './pricing.js';
import { authorizationId } from '../../../iso/wire.js';
import type {
  BalanceOutcome, Checked, ClearOutcome, CreditOutcome, DebitOutcome, LedgerOutcome, PostedOutcome, Posting, Refused, ReverseOutcome, ReversalSubject,
} from './types.js';

/** The decision of a message refused before any effect: the record still names its card, transaction and amount. */
export function refusedDecision(req: Request, r: Refused): Decision {
  return decide(req, { reason: r.reason, fault: r.fault, reasonDetail: r.detail, card: r.card, txId: r.txId, amountMinor: r.amountMinor, priced: r.priced });
}

/**
 * A message whose card data failed verification (cardauth/run.ts): the reason (63, 55, 75 …) and
 * what failed; an ARQC that verified before a later check failed still gets its ARPC.
 */
export function refusedByVerification(req: Request, c: Checked, v: { reason: Reason; detail: string; issuerAuth: IssuerAuthentication | null }): Decision {
  return about(req, c, { reason: v.reason, reasonDetail: v.detail, issuerAuth: v.issuerAuth });
}

/** A zero-amount 0100 purchase whose card checks (and card data) passed: 85, nothing held. */
export function accountVerified(req: Request, c: Checked): Decision {
  return about(req, c, { reason: 'ACCOUNT_VERIFIED', type: ACCOUNT_VERIFICATION_TYPE, status: 'CLEARED' });
}

/** A decision about a checked message: its card, transaction, amount and price, plus `d`. */
export function about(req: Request, c: Checked, d: Partial<Decision> & { readonly reason: Reason }): Decision {
  return decide(req, { card: c.card, txId: c.txId, amountMinor: c.amountMinor, priced: c.priced, wouldDecline: c.wouldDecline, ...d });
}

/**
 * The ledger's part of a debit: approved or declined with field 54 from the balances after it, or
 * at the deadline the stand-in rule's answer (run/budget.ts): APPROVE_UP_TO approved with a forced
 * hold, otherwise BUDGET_DEADLINE_PASSED (91).
 */
export function fromLedgerOutcome(req: Request, c: Checked, posting: Posting, l: LedgerOutcome): Decision {
  if (l.kind === 'standInDeclined') {
    return about(req, c, { reason: 'BUDGET_DEADLINE_PASSED', ledger: { op: posting, forced: false, standIn: true, approved: false } });
  }
  if (l.kind === 'standInApproved') {
    return about(req, c, { reason: 'APPROVED', ledger: { op: posting, forced: true, standIn: true, approved: true }, original: true });
  }
  // A SHADOW list rule of the plan comes first; else a SHADOW velocity counter of the hold.
  const counter = l.wouldDecline;
  const wouldDecline = c.wouldDecline ?? (counter === null ? null : { controlId: controlIdOfCounter(counter.controlId), reason: counter.reason });
  const d = about(req, c, {
    reason: l.approved ? 'APPROVED' : fromLedger(l.reason),
    balance: { currencyN3: c.currencyN3, availableMinor: l.availableMinor, blockedMinor: l.blockedMinor },
    ledger: { op: posting, forced: false, standIn: false, approved: l.approved, recorded: l.recorded }, scriptSeconds: l.scriptSeconds, original: l.approved,
    wouldDecline,
  });
  // An incremental authorization answers with its original's field 38 and names it as its reference.
  if (l.incremented === true && c.incrementOf !== null) {
    return { ...d, referenceTxId: c.incrementOf, authorizationId: l.approved ? authorizationId(c.incrementOf) : null };
  }
  return d;
}

/**
 * The decision an 0100/0200 debit gets if the ledger approves it, at zero balances: what a hold
 * that writes its own record (HoldArgs.record) carries; its cached answer leaves field 54 out and
 * the hold appends the balances it leaves (switch/process/replay.ts).
 */
export function approvalOf(req: Request, c: Checked, posting: Posting): Decision {
  return fromLedgerOutcome(req, c, posting, {
    kind: 'decided', approved: true, reason: 'APPROVED', availableMinor: 0, blockedMinor: 0, depositAvailableMinor: 0, recorded: false, scriptSeconds: 0, wouldDecline: null,
  });
}

/**
 * An 0100/0200 debit from what the ledger and the partner said (docs/partners.md):
 * - INTERNAL: the ledger's decision.
 * - SHARED_AUTHORIZATION: the partner first; its refusal decides (no hold taken); its approval, or
 *   its silence with a stand-in approval, leaves the ledger's decision.
 * - EXTERNAL_BALANCE: the deposit hold first (its decline decides); then the partner's refusal
 *   decides, its approval or a stand-in approval leaves the hold's. The balance is the
 *   partner's: no field 54.
 */
export function concludeDebit(req: Request, c: Checked, posting: Posting, o: DebitOutcome): Decision {
  const d = concludeDebitInFull(req, c, posting, o);
  const requested = o.requestedMinor;
  const approved = transactionAmountOf(c);
  if (requested === undefined || requested <= approved || d.reason !== 'APPROVED') return d;
  // A partial approval: 10, field 4 the amount approved, field 54 the amount asked for (type 57), both in field 49's currency.
  return { ...d, reason: 'PARTIAL_APPROVAL', partial: { approvedMinor: approved, requestedMinor: requested } };
}

/** The partner's `transactionId` for calls about a debit: an increment's is its original's (the same transaction). */
export function partnerTransactionIdOf(c: Checked): string {
  return c.incrementOf ?? c.txId;
}

/**
 * A partial approval of `c` when the funds cover `coverableMinor` (the balance's currency): `c`
 * priced for what it takes (plan/pricing.ts partialPrice: the amount, its fee and FX fee), or
 * null when not one minor unit of it fits.
 */
export function partially(c: Checked, coverableMinor: number): Checked | null {
  if (c.priced === null) return null;
  const p = partialPrice(c.program, c.priced, c.card.currency, coverableMinor);
  return p === null ? null : { ...c, amountMinor: p.amountMinor, priced: p };
}

/** Field 4's amount of a debit, in field 49's currency (`c.amountMinor` is in the balance's). */
export function transactionAmountOf(c: Checked): number {
  return c.priced !== null && c.priced.originalCurrency !== c.card.currency ? c.priced.originalAmountMinor : c.amountMinor;
}

/**
 * How much of a debit the funds can cover after a decline for funds: the lower of the user's
 * available balance and (with a deposit) the deposit's, as the hold saw them; null when the
 * decline was for something else.
 */
export function coverableAfter(c: Checked, l: LedgerOutcome, userUnchecked: boolean): number | null {
  if (l.kind !== 'decided' || l.approved) return null;
  if (l.reason !== 'INSUFFICIENT_FUNDS' && l.reason !== 'INSUFFICIENT_FUNDS_ON_DEPOSIT_BALANCE') return null;
  if (c.depositId === null) return userUnchecked ? null : l.availableMinor;
  return userUnchecked ? l.depositAvailableMinor : Math.min(l.availableMinor, l.depositAvailableMinor);
}

function concludeDebitInFull(req: Request, c: Checked, posting: Posting, o: DebitOutcome): Decision {
  const external = c.program.mode === 'EXTERNAL_BALANCE';
  const p = o.partner;
  if (p !== null && !p.approved && !o.partnerStandIn) {
    return decide(req, { reason: p.reason, card: c.card, txId: c.txId, amountMinor: c.amountMinor, priced: c.priced, partnerCall: p.timing });
  }
  const local = o.local === null ? about(req, c, { reason: 'UNKNOWN_ERROR' }) : fromLedgerOutcome(req, c, posting, o.local);
  if (p === null) return external ? { ...local, balance: null } : local;
  let d: Decision = { ...local, partnerCall: p.timing };
  if (o.partnerStandIn && local.reason === 'APPROVED' && (d.ledger.op === 'HOLD' || d.ledger.op === 'POST')) d = { ...d, ledger: { ...d.ledger, standIn: true } };
  return external ? { ...d, balance: null } : d;
}

/**
 * Whether the program's stand-in rule approves a debit its partner gave no answer to (the same
 * rule as the ledger's deadline, run/budget.ts): `APPROVE_UP_TO`, an 0100 hold (an 0200 post is
 * declined as under DECLINE), amount at or under `standIn.limit`.
 */
export function standInApproves(c: Checked, posting: Posting): boolean {
  const s = c.program.standIn;
  return posting === 'HOLD' && s.rule === 'APPROVE_UP_TO' && s.limit !== undefined && c.amountMinor <= s.limit;
}

/** A refund (20) or payment credit (28) posted at once, after the partner's `credit` in a partner mode. */
export function concludeCredit(req: Request, c: Checked, o: CreditOutcome): Decision {
  const p = o.partner;
  if (p !== null && !p.approved) return decide(req, { reason: p.reason, card: c.card, txId: c.txId, amountMinor: c.amountMinor, priced: c.priced, partnerCall: p.timing });
  const r = o.local;
  const d = r === null ? about(req, c, { reason: 'UNKNOWN_ERROR' }) : about(req, c, {
    reason: r.ok ? 'APPROVED' : fromLedger(r.reason), status: 'CLEARED', ledger: { op: 'CREDIT', approved: r.ok }, original: r.ok,
    balance: { currencyN3: c.currencyN3, availableMinor: r.availableMinor, blockedMinor: r.blockedMinor },
  });
  if (p === null) return d;
  return c.program.mode === 'EXTERNAL_BALANCE' ? { ...d, balance: null, partnerCall: p.timing } : { ...d, partnerCall: p.timing };
}

/** A balance inquiry, or a refund's 0100: approved with field 54, moving nothing. */
export function concludeBalance(req: Request, c: Checked, o: BalanceOutcome): Decision {
  if (!o.ok) return about(req, c, { reason: o.reason });
  return about(req, c, { reason: 'APPROVED', balance: { currencyN3: c.currencyN3, availableMinor: o.availableMinor, blockedMinor: o.blockedMinor } });
}

/** An 0120's forced hold: approved whatever the funds (the network already approved it). */
export function concludeForceHold(req: Request, c: Checked): Decision {
  return about(req, c, { reason: 'APPROVED', ledger: { op: 'HOLD', forced: true, standIn: false, approved: true }, original: true });
}

/** A completion advice: the authorization's hold replaced by its amount (approved, as every advice). */
export function concludeCompletion(req: Request, c: Checked, originalTxId: string): Decision {
  return about(req, c, { reason: 'APPROVED', referenceTxId: originalTxId, ledger: { op: 'HOLD', forced: true, standIn: false, approved: true } });
}

/**
 * An advice's credit: posted (an original a reversal may find), or, when the ledger cannot post it
 * (a balance past the n12 maximum, a balance gone), acknowledged all the same and recorded INVALID
 * with the reason: the scheme reported it, the issuer's operations must look at it.
 */
export function concludeAdviceCredit(req: Request, c: Checked, r: PostedOutcome): Decision {
  if (!r.ok) return about(req, c, { reason: fromLedger(r.reason), status: 'CLEARED', ledger: { op: 'CREDIT', approved: false } });
  return about(req, c, { reason: 'APPROVED', status: 'CLEARED', ledger: { op: 'CREDIT', approved: true }, original: true });
}

/** A refund's clearing: credited under the refund authorization's id, which is what a reversal names, not this advice. */
export function concludeRefundClear(req: Request, c: Checked, r: PostedOutcome): Decision {
  return { ...concludeAdviceCredit(req, c, r), original: false };
}

/**
 * An 0220 debit: the clearing of its original, or (no original, or several candidates: recorded
 * AMBIGUOUS_REFERENCED_TRANSACTION) a forced post, the scheme having settled it.
 */
export function concludeClear(req: Request, c: Checked, o: ClearOutcome): Decision {
  if (o.cleared) return about(req, c, { reason: 'APPROVED', referenceTxId: o.originalTxId, ledger: { op: 'CLEAR', originalTxId: o.originalTxId } });
  return about(req, c, {
    reason: o.ambiguous ? 'AMBIGUOUS_REFERENCED_TRANSACTION' : 'APPROVED', processing: 'SUCCESS',
    ledger: { op: 'POST', forced: true, standIn: false, approved: true }, original: true,
  });
}

const REVERSAL = { type: REVERSAL_TYPE, category: 'CREDIT' as const, status: 'REVERSED' as const };

/** A reversal refused before any effect (no field 2, a malformed field 95, an unknown card). */
export function refusedReversal(req: Request, r: { card: ReversalSubject['card'] | null; txId: string | null }, reason: Reason, fault: FieldFault | null = null): Decision {
  return decide(req, { reason, fault, ...REVERSAL, card: r.card, txId: r.txId });
}

/**
 * A reversal (0400/0420): its original reversed (what it moved), refused by the ledger (field 95
 * above the original, a credit-back past the maximum: 13, an advice acknowledged and recorded
 * INVALID), ambiguous (96), or unknown and acknowledged (remembered when field 90 names it).
 */
export function concludeReverse(req: Request, r: ReversalSubject, o: ReverseOutcome): Decision {
  if (o.found) {
    if (o.refusal !== null) return decide(req, { reason: o.refusal, ...REVERSAL, card: r.card, txId: r.txId, referenceTxId: o.originalTxId });
    return decide(req, { reason: 'APPROVED', ...REVERSAL, card: r.card, txId: r.txId, referenceTxId: o.originalTxId, amountMinor: o.movedMinor, ledger: { op: 'REVERSE', originalTxId: o.originalTxId } });
  }
  if (o.ambiguous) return refusedReversal(req, r, 'AMBIGUOUS_REFERENCED_TRANSACTION');
  return decide(req, { reason: 'APPROVED', ...REVERSAL, card: r.card, txId: r.txId, referenceTxId: o.named });
}

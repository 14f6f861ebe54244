// The executor: performs the intents of a message's plan (plan/types.ts) — the partner asks, the
// budgeted ledger calls with their stand-in and compensation, the search for an original, the
// outbox entries — and turns what came of them into the message's Decision through the plan's
// pure conclusions (plan/conclude.ts). It is the one place the deciding code has effects; the
// batch (batch.ts) calls it once per message and renders what it returns.
//
// A debit of a card this thread remembers (CardStore.seen) is decided in one round trip: planned
// on the remembered card, its hold re-checks the card's version and the message's duplicate entry
// in its own script (HoldArgs.guard) and writes the approval's record with it (HoldArgs.record,
// rendered here from the plan). When the guard fails, or the plan on the remembered card refused
// without asking the ledger, nothing was done and the message is decided again the usual way.
import type { ProcessContext } from './context.js';
import type { Decision, Request } from '../decision.js';
import type { Planner } from '../messages.js';
import { PreconditionFailedError, type ApprovalRecord, type HoldGuard, type HoldSequence, type PostResult } from '../../../ledger/index.js';
import { fromLedger, type Reason } from '../../../iso/reasons.js';
import { partnerDeclineReason } from '../../../adapters/partner-client.js';
import { text } from '../../../iso/wire.js';
import type { TransactionObject } from '../../../stores/records.js';
import type { EnqueueInput } from '../../../adapters/outbox.js';
import { recordIdOf } from '../../../stores/records.js';
import {
  about, accountVerified, approvalOf, transactionAmountOf, concludeAdviceCredit, coverableAfter, partially, partnerTransactionIdOf, refusedByVerification, concludeBalance, concludeClear, concludeCredit, concludeDebit, concludeForceHold, concludeRefundClear,
  concludeCompletion, concludeReverse, standInApproves,
} from '../plan/conclude.js';
import { creditArgs, debitArgs, holdArgs, incrementArgs } from '../plan/ledger-args.js';
import { isApproval } from '../decision.js';
import type { PartnerClient } from '../../../adapters/partner-client.js';
import { completionCalls, outboxCall, partnerTransaction, reportCalls } from '../plan/partner-calls.js';
import type { BalanceOutcome, Checked, CreditOutcome, LedgerOutcome, Plan, ReversalSubject, ReverseOutcome } from '../plan/types.js';
import { renderAnswer, renderRecord } from '../render.js';
import { cacheableAnswer, replayAnswer } from '../replay.js';
import { withinBudget, type BatchDeadlines } from './budget.js';
import { factsOf } from './facts.js';
import { matchOriginal } from './originals.js';
import { askPartner, enqueueAll, partnerOf } from './partner.js';
import { messagePan } from '../../../cardauth/fields.js';
import type { IssuerAuthentication } from '../../../cardauth/keys.js';
import { logCardDataRefusal, runVerification } from '../../../cardauth/run.js';
import { atcConsumption, type CardRecord } from '../../../stores/cards.js';
import { compensate } from './compensation.js';

/** The record a hold carried with its approval (HoldArgs.record), as rendered before the call. */
export interface CarriedApproval { readonly rec: TransactionObject; readonly nowMs: number; readonly bytes: string }

/** A routed message on its way through the executor (one per frame that reaches a planner). */
export interface Work {
  readonly req: Request;
  /** Its class's planner (messages.ts). */
  readonly planner: Planner;
  /** Its frame's index in the batch. */
  readonly i: number;
  /** Its duplicate key (null: network management, or fields 7/11 absent). */
  readonly dk: Buffer | null;
  /** The card lookup, started with the batch's duplicate lookups (null: no field 2). */
  card: Promise<CardRecord | null> | null;
  /** Set when the card is the one this thread remembers: the hold re-checks it (HoldArgs.guard). */
  guard: HoldGuard | undefined;
  /** The record the hold carried, set once the hold's arguments were built. */
  approval: CarriedApproval | undefined;
  /** The plan being run (set once planned), for the undo of a message that cannot be answered as decided. */
  plan: Plan | undefined;
  /** Set once the message's ARQC verified: its answer carries the ARPC (render.ts), its cached answer is marked for it. */
  issuerAuth: IssuerAuthentication | null;
}

/** A message answered from the duplicate cache while being decided again (its guard failed). */
export interface Replayed { readonly replayed: { readonly framed: Buffer | null; readonly code: string } }

/**
 * Decides one message: facts, plan, effects, conclusion. A message decided with a remembered card
 * (`w.guard`) stands only when its guarded ledger call ran; otherwise it is decided again after a
 * fresh duplicate lookup (a repeat is then answered from the cache: Replayed) and card read.
 * Throws when Redis or a script fails (the batch answers 96; what may have landed is undone).
 */
export async function decide(ctx: ProcessContext, w: Work, deadlines: BatchDeadlines): Promise<Decision | Replayed> {
  if (w.guard === undefined) return decideOnce(ctx, w, deadlines);
  try {
    const d = await decideOnce(ctx, w, deadlines);
    if (d.ledger.op !== 'NONE') return d;
  } catch (err) {
    if (!(err instanceof PreconditionFailedError)) throw err;
  }
  // The guarded hold did nothing (its guard failed) or never went out: no record of its to forget
  // or replace, whatever comes of deciding again.
  w.approval = undefined;
  w.guard = undefined;
  const [hit] = await ctx.records.cachedAnswers([w.dk]);
  if (hit !== null && hit !== undefined) return { replayed: await replayAnswer(ctx.codec, hit, w.req.msg, ctx.keys) };
  const pan = messagePan(w.req.msg.fields)!;
  ctx.cards.forget(pan);
  w.card = ctx.cards.findByPan(pan);
  return decideOnce(ctx, w, deadlines);
}

/** A card read again after its verification found it changed under the decision: at most this many times. */
const FRESH_READS_MAX = 2;

async function decideOnce(ctx: ProcessContext, w: Work, deadlines: BatchDeadlines, freshReads = 0): Promise<Decision> {
  const card = w.card === null ? null : await w.card;
  const plan = w.planner(w.req, await factsOf(ctx, card));
  w.plan = plan;
  const c = plan.op === 'ANSWER' || plan.op === 'REVERSE' ? null : plan.c;
  const v = c === null || c.verify === null ? null : await runVerification(ctx.keys, ctx.cards, { ...c.verify, fresh: w.guard === undefined, atcByHold: atcByHold(w, plan) });
  if (c !== null && v !== null && !v.ok) {
    // Refused on a remembered card: nothing is logged or counted yet. The message may be a repeat
    // (its chip read's ATC consumed by its first copy), which only the duplicate lookup of the
    // fresh decision tells (decide above); otherwise it is refused again, once, from a fresh read.
    if (w.guard !== undefined) throw new PreconditionFailedError('CHANGED');
    if (v.stale) {
      // The card changed under the check: decided again from a fresh read.
      if (freshReads >= FRESH_READS_MAX) return about(w.req, c, { reason: 'UNKNOWN_ERROR' });
      w.card = ctx.cards.findByPan(c.verify!.pan);
      return decideOnce(ctx, w, deadlines, freshReads + 1);
    }
    logCardDataRefusal({ reason: v.reason, detail: v.detail, mti: w.req.msg.mti, stan: text(w.req.msg.fields, 11), cardId: c.card.id, pan: c.verify!.pan });
    return refusedByVerification(w.req, c, v);
  }
  w.issuerAuth = v === null || !v.ok ? null : v.issuerAuth;
  if (v !== null && v.ok && v.atcToConsume !== undefined) w.guard = { ...w.guard!, sequence: atcConsumption(v.atcToConsume, c!.verify!.messageId) };
  const d = await run(ctx, w, plan, deadlines);
  return w.issuerAuth === null ? d : { ...d, issuerAuth: w.issuerAuth };
}

/**
 * Whether a verified chip read's ATC is consumed by the message's guarded hold (its own script:
 * ledger HoldGuard.sequence) rather than by a card-store script of its own: one Redis call fewer.
 * Only where that hold is surely the message's first ledger call and nothing is asked before it:
 * a remembered card's debit (not an increment) of an INTERNAL program. Anything else that ends a
 * guarded decision without its hold is decided again from a fresh read, which consumes the ATC
 * the usual way; a stand-in answer consumes it afterwards (localDebit).
 */
function atcByHold(w: Work, plan: Plan): boolean {
  return w.guard !== undefined && plan.op === 'DEBIT' && plan.c.program.mode === 'INTERNAL' && plan.c.incrementOf === null
    && plan.c.verify !== null && !plan.c.verify.messageId.includes('\x1f');
}

/**
 * The partner calls that undo what a debit or credit plan may have had a partner take, when its
 * message is answered 96 after all (its ledger call failed, or its record could not be written):
 * a `reversal` of the partner's `debit` / `credit` of the transaction (the seed: a reversal of
 * something the partner never took is answered 2xx all the same). None for INTERNAL programs.
 */
export function partnerUndo(w: Work): EnqueueInput[] {
  const p = w.plan;
  if (p === undefined || (p.op !== 'DEBIT' && p.op !== 'CREDIT') || p.c.program.mode === 'INTERNAL') return [];
  const call = p.op === 'DEBIT' ? 'debit' : 'credit';
  const status = p.op === 'DEBIT' && p.posting === 'HOLD' ? 'AUTHORIZED' : 'CLEARED';
  return [outboxCall(p.c.program, 'reversal', partnerTransaction(w.req, p.c, call, { status, transactionId: partnerTransactionIdOf(p.c) }))];
}

/** Performs a plan's intents and concludes. */
async function run(ctx: ProcessContext, w: Work, p: Plan, deadlines: BatchDeadlines): Promise<Decision> {
  const req = w.req;
  switch (p.op) {
    case 'ANSWER': return p.decision;
    case 'ACCOUNT_VERIFICATION': return accountVerified(req, p.c);
    case 'DEBIT': return runDebit(ctx, w, p, deadlines);
    case 'CREDIT': return runCredit(ctx, req, p.c, p.idempotencyKey);
    case 'BALANCE': return concludeBalance(req, p.c, await readBalance(ctx, p.c));
    case 'FORCE_HOLD': {
      if (p.completes !== null) {
        const done = await complete(ctx, req, p.c, p.completes);
        if (done !== null) return done;
      }
      await ctx.ledger.hold(holdArgs(p.c, { idempotencyKey: `advice:${p.c.txId}`, forced: true }));
      await enqueueAll(ctx, reportCalls(req, p.c, { kind: 'force-debit', status: 'AUTHORIZED' }));
      return concludeForceHold(req, p.c);
    }
    case 'ADVICE_CREDIT': {
      const r = await ctx.ledger.credit(creditArgs(p.c, { idempotencyKey: p.idempotencyKey }));
      if (r.ok) await enqueueAll(ctx, reportCalls(req, p.c, { kind: 'force-credit', status: 'CLEARED' }));
      return concludeAdviceCredit(req, p.c, r);
    }
    case 'CLEAR': return runClear(ctx, req, p.c);
    case 'REFUND_CLEAR': {
      const r = await creditRefund(ctx, p.c, p.originalTxId);
      if (r.ok) await enqueueAll(ctx, reportCalls(req, p.c, { kind: 'force-credit', status: 'CLEARED' }));
      return concludeRefundClear(req, p.c, r);
    }
    case 'REVERSE': return runReverse(ctx, req, p.r);
  }
}

/**
 * An 0100/0200 debit: the ledger's hold or post within the budget, around the partner's `debit`
 * in a partner mode (SHARED_AUTHORIZATION: the partner first, a local decline after its approval
 * sent a `reversal`; EXTERNAL_BALANCE: the deposit hold first, a partner refusal releases it). A
 * partner that does not answer leaves the answer to the stand-in rule: APPROVE_UP_TO keeps the
 * hold and tells the partner with a `force-debit`; otherwise a `reversal`, since it may have taken it.
 *
 * A purchase that accepts a partial approval (the plan's `partial`) is held first, in full or for
 * what the funds cover, and only then is a partner asked, for that amount (SHARED_AUTHORIZATION
 * too, in the order of EXTERNAL_BALANCE); in EXTERNAL_BALANCE the partner's balance is read
 * first, so that the debit it is asked for is one it can approve (docs/partners.md).
 */
async function runDebit(ctx: ProcessContext, w: Work, p: Extract<Plan, { op: 'DEBIT' }>, deadlines: BatchDeadlines): Promise<Decision> {
  const req = w.req;
  const posting = p.posting;
  let c = p.c;
  const requestedMinor = p.partial ? transactionAmountOf(c) : undefined;
  const client = partnerOf(ctx, c.program);
  if (client === null) {
    const h = await holdAllowingPartial(ctx, w, c, posting, false, p.partial, deadlines);
    return concludeDebit(req, h.c, posting, { local: h.local, partner: null, partnerStandIn: false, requestedMinor });
  }
  const status = posting === 'HOLD' ? 'AUTHORIZED' : 'CLEARED';
  const program = c.program;
  if (program.mode === 'SHARED_AUTHORIZATION' && !p.partial) {
    const ask = await askPartner(ctx, client, req, c, 'debit', status);
    const o = ask.outcome;
    if (!o.approved && !(!o.answered && standInApproves(c, posting))) {
      if (!o.answered) await enqueueAll(ctx, [outboxCall(program, 'reversal', ask.tx)]);
      return concludeDebit(req, c, posting, { local: null, partner: o, partnerStandIn: false });
    }
    const d = concludeDebit(req, c, posting, { local: await localDebit(ctx, w, c, posting, false, deadlines, true), partner: o, partnerStandIn: !o.approved });
    // A stand-in approval tells the partner with a force-debit; a local decline after the
    // partner's approval (funds, deposit, limits, deadline), or after its silence, with a reversal.
    if (d.reason === 'APPROVED' && !o.approved) await enqueueAll(ctx, [outboxCall(program, 'force-debit', partnerTransaction(req, c, 'standin', { status, transactionId: partnerTransactionIdOf(c) }))]);
    else if (d.reason !== 'APPROVED') await enqueueAll(ctx, [outboxCall(program, 'reversal', ask.tx)]);
    return d;
  }
  const external = program.mode === 'EXTERNAL_BALANCE';
  if (external && p.partial) c = await withinPartnerFunds(ctx, client, c);
  const h = await holdAllowingPartial(ctx, w, c, posting, external, p.partial, deadlines);
  c = h.c;
  const local = h.local;
  const held = concludeDebit(req, c, posting, { local, partner: null, partnerStandIn: false, requestedMinor });
  if (!isApproval(held.reason)) return held;
  const ask = await askPartner(ctx, client, req, c, 'debit', status);
  const o = ask.outcome;
  if (o.approved) return concludeDebit(req, c, posting, { local, partner: o, partnerStandIn: false, requestedMinor });
  if (!o.answered && standInApproves(c, posting)) {
    // No answer, and the stand-in rule approves: the hold stays and the partner is told.
    await enqueueAll(ctx, [outboxCall(program, 'force-debit', partnerTransaction(req, c, 'standin', { status, transactionId: partnerTransactionIdOf(c) }))]);
    return concludeDebit(req, c, posting, { local, partner: o, partnerStandIn: true, requestedMinor });
  }
  // The hold (or post) taken for it is undone; a partner that did not answer may have taken the debit.
  await ctx.ledger.reverse({ idempotencyKey: `partner-undo:${c.txId}`, txId: c.txId, balanceId: c.card.balanceId, cardId: c.card.id, rememberOrphan: true });
  if (!o.answered) await enqueueAll(ctx, [outboxCall(program, 'reversal', ask.tx)]);
  return concludeDebit(req, c, posting, { local, partner: o, partnerStandIn: false });
}

/**
 * The hold or post of a debit, and, for a purchase that accepts a partial approval and was
 * declined for funds, a second one for what the funds cover (one minor unit at least; the fee on
 * the new amount included): the checked message as held, and what came of it.
 */
async function holdAllowingPartial(
  ctx: ProcessContext, w: Work, c: Checked, posting: 'HOLD' | 'POST', userUnchecked: boolean, partial: boolean, deadlines: BatchDeadlines,
): Promise<{ c: Checked; local: LedgerOutcome }> {
  const first = await localDebit(ctx, w, c, posting, userUnchecked, deadlines, true);
  if (!partial || c.priced === null) return { c, local: first };
  const cover = coverableAfter(c, first, userUnchecked);
  if (cover === null) return { c, local: first };
  const part = partially(c, cover);
  if (part === null) return { c, local: first };
  const second = await localDebit(ctx, w, part, posting, userUnchecked, deadlines, false);
  return second.kind === 'decided' && !second.approved ? { c, local: second } : { c: part, local: second };
}

/**
 * EXTERNAL_BALANCE and a purchase that accepts a partial approval: the partner's balance read
 * within the budget, and the message reduced to what it covers (fees included); as it was when
 * the balance covers it, cannot be read, or covers not one minor unit (the partner then declines).
 */
async function withinPartnerFunds(ctx: ProcessContext, client: PartnerClient, c: Checked): Promise<Checked> {
  if (c.priced === null) return c;
  const leftMs = c.program.budgetMs - (ctx.now() - c.startedMs);
  const r = await client.getBalance(c.card.customerId, c.card.balanceId, { timeoutMs: Math.min(leftMs, c.program.partner?.timeoutMs ?? leftMs) });
  if (!r.ok || r.body.amount >= c.amountMinor + c.priced.feeMinor + c.priced.fxFeeMinor) return c;
  return partially(c, r.body.amount) ?? c;
}

/**
 * The deposit-then-user hold or post of a debit within its budget (budget.ts); `userUnchecked`:
 * EXTERNAL_BALANCE. An incremental authorization adds to its original's hold instead (ledger
 * incrementHold); one whose original is no longer an open authorization is held on its own, as
 * any authorization. `first`: the message's first ledger call, the only one that carries the
 * remembered card's guard and the approval's record.
 */
async function localDebit(
  ctx: ProcessContext, w: Work, c: Checked, posting: 'HOLD' | 'POST', userUnchecked: boolean, deadlines: BatchDeadlines, first: boolean,
): Promise<LedgerOutcome> {
  const guarded = first && w.guard !== undefined && c.incrementOf === null;
  const o = { idempotencyKey: null, guard: guarded ? w.guard : undefined, userUnchecked, record: guarded ? carryApproval(ctx, w, c, posting) : undefined };
  const original = c.incrementOf;
  let incremented = false;
  const b = await withinBudget(ctx, c, posting, deadlines, async () => {
    if (original !== null && posting === 'HOLD') {
      const r = await ctx.ledger.incrementHold(incrementArgs(c, original, userUnchecked));
      if (r.reason !== 'TRANSACTION_NOT_FOUND' && r.reason !== 'TRANSACTION_NOT_OPEN') { incremented = true; return r; }
    }
    return posting === 'HOLD' ? ctx.ledger.hold(holdArgs(c, o)) : ctx.ledger.debit(debitArgs(c, o));
  });
  if (b.kind !== 'decided' && o.guard?.sequence !== undefined) consumeAtcAfterStandIn(ctx, c, o.guard.sequence);
  if (b.kind === 'standInApproved') return STAND_IN_APPROVED;
  if (b.kind === 'standInDeclined') return STAND_IN_DECLINED;
  const r = b.result;
  return {
    kind: 'decided', approved: r.approved, reason: r.reason, availableMinor: r.availableMinor, blockedMinor: r.blockedMinor,
    depositAvailableMinor: r.depositAvailableMinor, recorded: r.recorded, scriptSeconds: b.scriptSeconds, wouldDecline: r.wouldDecline, incremented,
  };
}

/**
 * A chip read answered by the stand-in rule while its hold was to consume its ATC (the hold never
 * went out, or may not have landed): the card store consumes it, retried like a compensation. If
 * the hold did land, it consumed it under the same transaction id, which passes again.
 */
function consumeAtcAfterStandIn(ctx: ProcessContext, c: Checked, s: HoldSequence): void {
  const pan = c.verify?.pan;
  if (pan === undefined) return;
  compensate(() => ctx.cards.recordSuccess(pan, { cardId: c.card.id, atc: s.value, messageId: s.owner, reset: [] }));
}

const STAND_IN_APPROVED: LedgerOutcome = Object.freeze({ kind: 'standInApproved' });
const STAND_IN_DECLINED: LedgerOutcome = Object.freeze({ kind: 'standInDeclined' });

/**
 * The record and cached answer of the approval the debit would get (plan/conclude.ts approvalOf;
 * its field 54 left out of the cached answer, for the balances the hold appends: replay.ts), for its hold to write when it approves; kept
 * on the work so the batch knows what the hold wrote. Undefined when the cached answer lives in
 * another slot group than the record (the record is then written after the decision, as any).
 */
function carryApproval(ctx: ProcessContext, w: Work, c: Checked, posting: 'HOLD' | 'POST'): ApprovalRecord | undefined {
  const dk = w.dk;
  if (dk === null) return undefined;
  const d = approvalOf(w.req, c, posting);
  const res = renderAnswer(ctx.dialect, w.req, d);
  const rc = res.fields.get(39) as string;
  const nowMs = ctx.now();
  const rec = renderRecord(w.req, d, recordIdOf(dk), rc, nowMs);
  const balancesN3 = d.balance === null ? null : d.balance.currencyN3;
  const record = ctx.records.approvalRecord(dk, rec, cacheableAnswer(ctx.codec, res, rc, w.issuerAuth?.configId ?? null, balancesN3), nowMs, balancesN3 !== null);
  if (record === null) return undefined;
  w.approval = { rec, nowMs, bytes: record.args[0] as string };
  return record;
}

/** A card credit (refund, payment credit) posted at once; in a partner mode the partner's `credit` first. */
async function runCredit(ctx: ProcessContext, req: Request, c: Checked, idempotencyKey: string): Promise<Decision> {
  const post = async (): Promise<CreditOutcome['local']> => ctx.ledger.credit(creditArgs(c, { idempotencyKey }));
  const client = partnerOf(ctx, c.program);
  if (client === null) return concludeCredit(req, c, { local: await post(), partner: null });
  const ask = await askPartner(ctx, client, req, c, 'credit', 'CLEARED');
  if (!ask.outcome.approved) {
    if (!ask.outcome.answered) await enqueueAll(ctx, [outboxCall(c.program, 'reversal', ask.tx)]);
    return concludeCredit(req, c, { local: null, partner: ask.outcome });
  }
  const d = concludeCredit(req, c, { local: await post(), partner: ask.outcome });
  if (d.reason !== 'APPROVED') await enqueueAll(ctx, [outboxCall(c.program, 'reversal', ask.tx)]);
  return d;
}

/**
 * The user balance for field 54. In an EXTERNAL_BALANCE program the balance is the partner's:
 * read with its `GET /users/{userId}/balances/{balanceId}` within the budget (available = the
 * partner's amount; blocked = what the switch still holds for it).
 */
async function readBalance(ctx: ProcessContext, c: Checked): Promise<BalanceOutcome> {
  const client = c.program.mode === 'EXTERNAL_BALANCE' ? partnerOf(ctx, c.program) : null;
  if (client !== null) {
    const leftMs = c.program.budgetMs - (ctx.now() - c.startedMs);
    const r = await client.getBalance(c.card.customerId, c.card.balanceId, { timeoutMs: Math.min(leftMs, c.program.partner?.timeoutMs ?? leftMs) });
    if (!r.ok) return { ok: false, reason: partnerDeclineReason(r) };
    const local = await ctx.ledger.getUserBalance(c.card.balanceId);
    return { ok: true, availableMinor: r.body.amount, blockedMinor: local?.blockedMinor ?? 0 };
  }
  const b = await ctx.ledger.getUserBalance(c.card.balanceId);
  if (b === null) return { ok: false, reason: 'BALANCE_NOT_FOUND' };
  return { ok: true, availableMinor: b.availableMinor, blockedMinor: b.blockedMinor };
}

/**
 * A completion advice (an 0120 naming an open authorization of the card: a fuel pump's
 * pre-authorization completed for less, a tip): the authorization's hold replaced by the advice's
 * amount, up or down, forced (ledger replaceHold): one hold, never two. A partner-mode program's
 * partner is told what moved: a force-debit of what was added, a force-credit (adjustment) of what
 * was released, under the authorization's transaction id. Null when the original is no open
 * authorization any more: the advice is then a forced hold of its own.
 */
async function complete(ctx: ProcessContext, req: Request, c: Checked, originalTxId: string): Promise<Decision | null> {
  const r = await ctx.ledger.replaceHold({ idempotencyKey: `complete:${c.txId}`, txId: originalTxId, balanceId: c.card.balanceId, amountMinor: c.amountMinor, nowMs: c.nowMs });
  if (!r.ok) return null;
  await enqueueAll(ctx, completionCalls(req, c, originalTxId, r.forcedMinor, r.releasedMinor));
  return concludeCompletion(req, c, originalTxId);
}

/**
 * The clearing of the original authorization (found as originals.ts says); when there is none the
 * advice is a forced post under its own transaction id, reported to the partner as a force-debit.
 */
async function runClear(ctx: ProcessContext, req: Request, c: Checked): Promise<Decision> {
  // One idempotency key per (advice, candidate): a first probe of an id the ledger does not know
  // must not make the clearing of the candidate found next look like a conflicting replay.
  let cleared = { fromHoldMinor: 0, forcedMinor: 0, releasedMinor: 0 };
  const clear = async (originalTxId: string): Promise<boolean> => {
    const r = await ctx.ledger.clear({ idempotencyKey: `clear:${c.txId}:${originalTxId}`, txId: originalTxId, balanceId: c.card.balanceId, amountMinor: c.amountMinor, nowMs: c.nowMs });
    cleared = { fromHoldMinor: r.clearedFromHoldMinor, forcedMinor: r.forcedMinor, releasedMinor: r.releasedMinor };
    // A remembered orphan reversal (no authorization ever held under that id) is no original to
    // clear: the scheme settled the money all the same, so the advice is a forced post.
    return r.reason !== 'TRANSACTION_NOT_FOUND' && !(r.reason === 'TRANSACTION_NOT_OPEN' && r.status === 'REVERSED');
  };
  const m = await matchOriginal(ctx, req.msg.fields, c.card, clear, true);
  if (m.found) {
    // The partner learns of the clearing (EXTERNAL_BALANCE: PUT CLEARED, and what a clearing for
    // less gave back) and of any excess over the authorization (force-debit).
    await enqueueAll(ctx, reportCalls(req, c, { kind: 'cleared', originalTxId: m.txId, amountMinor: c.amountMinor, fromHoldMinor: cleared.fromHoldMinor, releasedMinor: cleared.releasedMinor }));
    if (cleared.forcedMinor > 0) await enqueueAll(ctx, reportCalls(req, c, { kind: 'force-debit', status: 'CLEARED', amountMinor: cleared.forcedMinor }));
    return concludeClear(req, c, { cleared: true, originalTxId: m.txId, ...cleared });
  }
  await ctx.ledger.debit(debitArgs(c, { idempotencyKey: `force:${c.txId}`, forced: true }));
  await enqueueAll(ctx, reportCalls(req, c, { kind: 'force-debit', status: 'CLEARED' }));
  return concludeClear(req, c, { cleared: false, ambiguous: m.ambiguous });
}

/**
 * A refund's 0100 held nothing, so its clearing is the credit itself, recorded under the original's
 * transaction id. When that id is taken (a second clearing of the same refund, or field 90 naming
 * a debit) the credit is recorded under the advice's own id: each clearing pays once.
 */
async function creditRefund(ctx: ProcessContext, c: Checked, originalTxId: string | null): Promise<PostResult> {
  if (originalTxId !== null) {
    const r = await ctx.ledger.credit(creditArgs(c, { idempotencyKey: `clear:${c.txId}`, txId: originalTxId }));
    if (r.reason !== 'TRANSACTION_EXISTS') return r;
  }
  return ctx.ledger.credit(creditArgs(c, { idempotencyKey: `force:${c.txId}` }));
}

/**
 * A reversal: the original found (originals.ts) and reversed whatever its state; a partner-mode
 * program's partner is told what was given back (force-credit; force-debit for a credit debited
 * back). An unknown original named by field 90 is remembered as reversed.
 */
async function runReverse(ctx: ProcessContext, req: Request, r: ReversalSubject): Promise<Decision> {
  let outcome: Reversed = { known: false, movedMinor: 0, refusal: null, debitedBack: false };
  const apply = async (originalTxId: string): Promise<boolean> => {
    outcome = await reverseOriginal(ctx, r.card, originalTxId, r.newAmountMinor, false);
    return outcome.known;
  };
  const m = await matchOriginal(ctx, req.msg.fields, r.card, apply, false);
  if (m.found) {
    const o: ReverseOutcome = { found: true, originalTxId: m.txId, movedMinor: outcome.movedMinor, refusal: outcome.refusal, debitedBack: outcome.debitedBack };
    if (o.refusal === null && r.program !== undefined && r.txId !== null) {
      const subject = { card: r.card, program: r.program, txId: r.txId, nowMs: r.nowMs, amountMinor: o.movedMinor, priced: null, kind: 'REFUND' as const, pc: { type: 'Adjustment' } };
      await enqueueAll(ctx, reportCalls(req, subject, { kind: 'reversed', originalTxId: m.txId, movedMinor: o.movedMinor, debitedBack: o.debitedBack }));
    }
    return concludeReverse(req, r, o);
  }
  // An unknown original is acknowledged (the processor must not retry it forever) and, when field
  // 90 names it, remembered as reversed.
  if (!m.ambiguous && m.named !== null) await reverseOriginal(ctx, r.card, m.named, r.newAmountMinor, true);
  return concludeReverse(req, r, { found: false, ambiguous: m.ambiguous, named: m.named });
}

/**
 * What reversing one transaction did: `known`, the ledger had it; `movedMinor`, money given back
 * by this call (fees included); `refusal`, why the ledger moved nothing although it knows the
 * transaction (null when it reversed it now or already had).
 */
interface Reversed { known: boolean; movedMinor: number; refusal: Reason | null; debitedBack: boolean }

/**
 * Reverses `originalTxId` whatever its state (ledger `reverse`): an open hold is released, posted
 * money is moved back (a debit credited back, a credit debited back), in full or down to
 * `newAmount`, and the card's daily-limit usage is given back.
 */
async function reverseOriginal(ctx: ProcessContext, card: CardRecord, originalTxId: string, newAmount: number, rememberOrphan: boolean): Promise<Reversed> {
  const r = await ctx.ledger.reverse({
    // The probe and the remembering of an orphan are two ledger operations: two idempotency keys.
    idempotencyKey: `${rememberOrphan ? 'orphan' : 'rev'}:${originalTxId}:${newAmount}`, txId: originalTxId, balanceId: card.balanceId, rememberOrphan,
    cardId: card.id, ...(newAmount > 0 ? { newAmountMinor: newAmount } : {}),
  });
  const known = r.reason !== 'TRANSACTION_NOT_FOUND';
  const refusal: Reason | null = r.ok || !known ? null : r.reason === 'INVALID_AMOUNT' || r.reason === 'AMOUNT_TOO_LARGE' ? 'INVALID_AMOUNT' : fromLedger(r.reason);
  return { known, movedMinor: r.movedMinor, refusal, debitedBack: r.effect === 'DEBITED_BACK' };
}

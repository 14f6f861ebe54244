// The partner modes of a program (SPEC §4, §5; seed "Your APIs for us — External Balance" and
// "— Shared authorization"), on top of the decision values of the INTERNAL mode:
//
// - SHARED_AUTHORIZATION: the switch holds the balances; the partner decides first
//   (`POST /transactions/debit` within what is left of the budget), then the usual
//   deposit-then-user hold. A partner approval followed by a local decline is undone with a
//   `reversal`; a partner that does not answer in time is declined 91 and sent a `reversal` too,
//   since it may have taken the debit.
// - EXTERNAL_BALANCE: the partner holds the user's balance. The switch holds the program's deposit
//   (its limits checked, the user's funds not: the local user balance only records the hold), then
//   asks the partner's `debit`; a refusal or no answer releases the deposit hold (and, for no
//   answer, sends a `reversal`).
// - A partner that does not answer (timeout, unreachable, 5xx, malformed, breaker open) leaves the
//   answer to the program's stand-in rule: DECLINE (default) as above; APPROVE_UP_TO approves an
//   0100 at or under `standIn.limit` against the ledger's hold and tells the partner with a
//   `force-debit` instead of a `reversal` (standInAfterPartner).
//
// Calls the partner cannot refuse (`force-debit`, `force-credit`, `reversal`, `PUT` cleared and
// notifications) are written to the durable outbox (adapters/outbox.ts) before the wire answer;
// the main thread delivers them. Every call about one transaction carries the ledger's transaction
// id as `transactionId`, and a key and object id derived from the call and that id, so a repeated
// message, or a retry, repeats the same call.
import { createHash } from 'node:crypto';
import { uuidFromHash } from '../../ledger/keys.js';
import type { ProcessContext } from './context.js';
import { performance } from 'node:perf_hooks';
import { decide, type Decision, type PartnerCallTiming, type Request } from './decision.js';
import type { Checked } from './request.js';
import type { Program } from '../../stores/programs.js';
import { notifierDescription, type Reason } from '../../iso/reasons.js';
import { buildPartnerTransaction } from '../../adapters/partner-transaction.js';
import { partnerDeclineReason, type PartnerClient } from '../../adapters/partner-client.js';
import type { PartnerTransaction, PartnerTransactionStatus, PartnerTransactionType } from '../../adapters/partner-types.js';
import type { EnqueueInput, OutboxKind } from '../../adapters/outbox.js';
import { captureModeOf } from './pricing.js';
import { merchantLocation } from './render.js';
import { text } from '../../iso/wire.js';
import type { TransactionObject } from '../../stores/records.js';

/** A UUID v4 made from `seed` (sha-256): the same call about the same transaction gets the same one. */
export function uuidOf(seed: string): string {
  return uuidFromHash(createHash('sha256').update(seed).digest());
}

/** The partner client of a program in a partner mode, or null for an INTERNAL program. */
export function partnerOf(ctx: ProcessContext, program: Program): PartnerClient | null {
  return program.mode === 'INTERNAL' ? null : ctx.partners.get(program.configId) ?? null;
}

const TYPE_BY_SEED: Readonly<Record<string, PartnerTransactionType>> = {
  POS: 'pos', ATM: 'atm', Cashback: 'cashback_at_pos', Refund: 'adjustment', Payment: 'payment', ACCOUNT_VERIFICATION: 'pos',
};

/** What a partner call is about: a checked message, or a reversal's card and program. */
export type PartnerSubject = Pick<Checked, 'card' | 'program' | 'txId' | 'nowMs' | 'startedMs' | 'amountMinor' | 'priced' | 'kind'> & { readonly pc: { readonly type: string } };

/**
 * The transaction object of a call about a checked message. `amount` is what the cardholder pays
 * or receives in the balance's currency, fees included; `originalAmount`/`originalCurrency` are
 * field 4/49.
 */
export function partnerTransaction(req: Request, c: PartnerSubject, call: string, o: {
  status: PartnerTransactionStatus; type?: PartnerTransactionType; transactionId?: string; referenceTransactionId?: string | null; amountMinor?: number;
}): PartnerTransaction {
  const f = req.msg.fields;
  const where = merchantLocation(text(f, 43));
  const fees = c.kind === 'DEBIT' ? (c.priced?.feeMinor ?? 0) + (c.priced?.fxFeeMinor ?? 0) : 0;
  const transactionId = o.transactionId ?? c.txId;
  return buildPartnerTransaction({
    id: uuidOf(`obj|${call}|${transactionId}|${c.txId}`),
    balanceId: c.card.balanceId, resourceId: c.card.id, resource: 'card', transactionId,
    referenceTransactionId: o.referenceTransactionId ?? null,
    type: o.type ?? TYPE_BY_SEED[c.pc.type] ?? 'pos',
    amountMinor: o.amountMinor ?? c.amountMinor + fees, currency: c.card.currency,
    originalAmountMinor: c.priced?.originalAmountMinor ?? null, originalCurrency: c.priced?.originalCurrency ?? null,
    status: o.status, description: where.name ?? c.pc.type, date: c.nowMs,
    transactionData: {
      mcc: text(f, 18) ?? null, merchantIdentifier: text(f, 42)?.trim() ?? null, merchantName: where.name, captureMode: captureModeOf(f),
      lastFourDigits: c.card.panLast4, acquirerCountry: where.country, retrievalReferenceNumber: text(f, 37) ?? null, cardId: c.card.id,
    },
  });
}

const PATHS: Readonly<Record<Exclude<OutboxKind, 'notification' | 'clear'>, string>> = {
  'force-debit': '/transactions/force-debit', 'force-credit': '/transactions/force-credit', reversal: '/transactions/reversal',
};

/**
 * Writes a call the partner cannot refuse to the outbox (awaited: before the wire answer). The
 * key is derived from the call and the transaction, so a repeated message enqueues nothing new.
 */
export async function enqueuePartnerCall(ctx: ProcessContext, program: Program, kind: Exclude<OutboxKind, 'notification'>, tx: PartnerTransaction): Promise<void> {
  const clear = kind === 'clear';
  await enqueueOnce(ctx, {
    kind, configId: program.configId, method: clear ? 'PUT' : 'POST',
    path: clear ? `/transactions/${encodeURIComponent(tx.transactionId)}` : PATHS[kind],
    body: tx, idempotencyKey: uuidOf(`${kind}|${tx.transactionId}|${tx.id}`),
  });
}

/**
 * Enqueues a call; a repeat of the message that reaches here (a duplicate racing its original)
 * finds its key taken with a body of another date: the first call about the transaction is
 * durable already, so that is done, not an error.
 */
async function enqueueOnce(ctx: ProcessContext, input: EnqueueInput): Promise<void> {
  try {
    await ctx.outbox.enqueue(input);
  } catch (err) {
    if ((err as { code?: string }).code !== 'OUTBOX_ERR_KEY_REUSED') throw err;
  }
}

/** What the partner said about a debit or credit asked within the budget. */
export type PartnerVerdict = { approved: true } | { approved: false; reason: Reason; answered: boolean };

/**
 * Asks the partner's `debit` (or `credit`) for a checked message within what is left of its
 * budget (at most the program's partner timeout). `answered: false`: no answer the switch can act
 * on (timeout, unreachable, 5xx, malformed, breaker open) — the partner may have taken it.
 */
export async function askPartner(ctx: ProcessContext, client: PartnerClient, req: Request, c: Checked, call: 'debit' | 'credit', status: PartnerTransactionStatus): Promise<{ verdict: PartnerVerdict; tx: PartnerTransaction; timing: PartnerCallTiming }> {
  const tx = partnerTransaction(req, c, call, { status });
  const leftMs = c.program.budgetMs - (ctx.now() - c.startedMs);
  const timeoutMs = Math.min(leftMs, c.program.partner?.timeoutMs ?? leftMs);
  const key = uuidOf(`${call}|${c.txId}`);
  const t0 = performance.now();
  const r = call === 'debit' ? await client.debit(tx, key, { timeoutMs }) : await client.credit(tx, key, { timeoutMs });
  const timing: PartnerCallTiming = { partner: c.program.configId, endpoint: call, outcome: r.ok ? 'ok' : r.kind, seconds: (performance.now() - t0) / 1000 };
  if (r.ok) return { verdict: { approved: true }, tx, timing };
  return { verdict: { approved: false, reason: partnerDeclineReason(r), answered: r.kind === 'DECLINED' }, tx, timing };
}

/**
 * A debit (0100 hold, 0200 post) in a partner mode, around `local`, the INTERNAL decision with the
 * hold or post (EXTERNAL_BALANCE: with the user's funds unchecked). Null for an INTERNAL program:
 * the caller decides alone.
 */
export async function partnerDebit(
  ctx: ProcessContext, req: Request, c: Checked, status: PartnerTransactionStatus, local: (userUnchecked: boolean) => Promise<Decision>,
): Promise<Decision | null> {
  const client = partnerOf(ctx, c.program);
  if (client === null) return null;
  if (c.program.mode === 'SHARED_AUTHORIZATION') {
    const { verdict, tx, timing } = await askPartner(ctx, client, req, c, 'debit', status);
    if (!verdict.approved) {
      if (!verdict.answered && standInApproves(c, status)) return standInAfterPartner(ctx, req, c, tx, await local(false), timing);
      if (!verdict.answered) await enqueuePartnerCall(ctx, c.program, 'reversal', tx);
      return { ...refusedByPartner(req, c, verdict.reason), partnerCall: timing };
    }
    const d = await local(false);
    // Approved by the partner, declined here (funds, deposit, limits, deadline): the partner is told to undo it.
    if (d.reason !== 'APPROVED') await enqueuePartnerCall(ctx, c.program, 'reversal', tx);
    return { ...d, partnerCall: timing };
  }
  const d = await local(true);
  if (d.reason !== 'APPROVED') return { ...d, balance: null };
  const { verdict, tx, timing } = await askPartner(ctx, client, req, c, 'debit', status);
  if (verdict.approved) return { ...d, balance: null, partnerCall: timing };
  // No answer, and the stand-in rule approves: the deposit hold stays and the partner is told.
  if (!verdict.answered && standInApproves(c, status)) return { ...(await standInAfterPartner(ctx, req, c, tx, d, timing)), balance: null };
  // The deposit hold (or post) taken for it is undone; a partner that did not answer may have taken the debit.
  await ctx.ledger.reverse({ idempotencyKey: `partner-undo:${c.txId}`, txId: c.txId, balanceId: c.card.balanceId, cardId: c.card.id, rememberOrphan: true });
  if (!verdict.answered) await enqueuePartnerCall(ctx, c.program, 'reversal', tx);
  return { ...refusedByPartner(req, c, verdict.reason), partnerCall: timing };
}

/**
 * Whether the program's stand-in rule approves a debit its partner gave no answer to (SPEC §2.5,
 * the same rule as the ledger's deadline in deadline.ts): `APPROVE_UP_TO`, an 0100 hold (status
 * AUTHORIZED; an 0200 post is declined as under DECLINE), amount at or under `standIn.limit`.
 */
function standInApproves(c: Checked, status: PartnerTransactionStatus): boolean {
  const s = c.program.standIn;
  return status === 'AUTHORIZED' && s.rule === 'APPROVE_UP_TO' && s.limit !== undefined && c.amountMinor <= s.limit;
}

/**
 * A stand-in approval after the partner's debit went unanswered, given `d`, the ledger's decision
 * on the hold (EXTERNAL_BALANCE: the deposit hold taken already; SHARED_AUTHORIZATION: the usual
 * deposit-then-user hold). Approved: the hold stands and the partner is told through the outbox
 * with a `force-debit` of the same transactionId (the transaction happened), not a `reversal`.
 * Declined here: that code, and a `reversal`, since the partner may have taken the debit.
 */
async function standInAfterPartner(ctx: ProcessContext, req: Request, c: Checked, debit: PartnerTransaction, d: Decision, timing: PartnerCallTiming): Promise<Decision> {
  if (d.reason !== 'APPROVED') {
    await enqueuePartnerCall(ctx, c.program, 'reversal', debit);
    return { ...d, partnerCall: timing };
  }
  await enqueuePartnerCall(ctx, c.program, 'force-debit', partnerTransaction(req, c, 'standin', { status: debit.status }));
  const ledger = d.ledger.op === 'HOLD' || d.ledger.op === 'POST' ? { ...d.ledger, standIn: true } : d.ledger;
  return { ...d, ledger, partnerCall: timing };
}

/** A card credit (refund, payment credit) asked within the budget in a partner mode: the partner's `credit` first. */
export async function partnerCredit(ctx: ProcessContext, req: Request, c: Checked, local: () => Promise<Decision>): Promise<Decision | null> {
  const client = partnerOf(ctx, c.program);
  if (client === null) return null;
  const { verdict, tx, timing } = await askPartner(ctx, client, req, c, 'credit', 'CLEARED');
  if (!verdict.approved) {
    if (!verdict.answered) await enqueuePartnerCall(ctx, c.program, 'reversal', tx);
    return { ...refusedByPartner(req, c, verdict.reason), partnerCall: timing };
  }
  const d = await local();
  if (d.reason !== 'APPROVED') await enqueuePartnerCall(ctx, c.program, 'reversal', tx);
  return { ...d, ...(c.program.mode === 'EXTERNAL_BALANCE' ? { balance: null } : {}), partnerCall: timing };
}

function refusedByPartner(req: Request, c: Checked, reason: Reason): Decision {
  return decide(req, { reason, card: c.card, txId: c.txId, amountMinor: c.amountMinor, priced: c.priced, issuerAuth: c.issuerAuth });
}

/**
 * What an advice, clearing or reversal reports to a partner-mode program's partner, through the
 * outbox: `force-debit` for a forced hold or post, `force-credit` for a forced credit or a scheme
 * reversal that gave money back (type adjustment, status REVERSED, the original as reference),
 * `PUT` CLEARED for the clearing of an EXTERNAL_BALANCE authorization. Nothing for INTERNAL.
 */
export async function reportToPartner(ctx: ProcessContext, req: Request, c: PartnerSubject, what:
  | { kind: 'force-debit' | 'force-credit'; status: PartnerTransactionStatus; amountMinor?: number; transactionId?: string }
  | { kind: 'cleared'; originalTxId: string; amountMinor: number; fromHoldMinor: number; releasedMinor: number }
  | { kind: 'reversed'; originalTxId: string; movedMinor: number; debitedBack: boolean },
): Promise<void> {
  if (partnerOf(ctx, c.program) === null) return;
  if (what.kind === 'cleared') {
    if (c.program.mode !== 'EXTERNAL_BALANCE') return;
    // PUT only for an authorization the partner took (something was cleared from its hold); a
    // clearing for less gives the partner back what the switch released (force-credit).
    if (what.fromHoldMinor > 0) {
      await enqueuePartnerCall(ctx, c.program, 'clear', partnerTransaction(req, c, 'clear', { status: 'CLEARED', transactionId: what.originalTxId, amountMinor: what.amountMinor }));
    }
    if (what.releasedMinor > 0) {
      await enqueuePartnerCall(ctx, c.program, 'force-credit', partnerTransaction(req, c, 'clear-rest', {
        status: 'CLEARED', type: 'adjustment', transactionId: c.txId, referenceTransactionId: what.originalTxId, amountMinor: what.releasedMinor,
      }));
    }
    return;
  }
  if (what.kind === 'reversed') {
    if (what.movedMinor <= 0) return;
    const kind = what.debitedBack ? 'force-debit' : 'force-credit';
    await enqueuePartnerCall(ctx, c.program, kind, partnerTransaction(req, c, kind, {
      status: 'REVERSED', type: 'adjustment', transactionId: c.txId, referenceTransactionId: what.originalTxId, amountMinor: what.movedMinor,
    }));
    return;
  }
  await enqueuePartnerCall(ctx, c.program, what.kind, partnerTransaction(req, c, what.kind, {
    status: what.status, ...(what.amountMinor === undefined ? {} : { amountMinor: what.amountMinor }), ...(what.transactionId === undefined ? {} : { transactionId: what.transactionId }),
  }));
}

/**
 * The Legacy Transactions Notifier call of a recorded message (seed "Legacy Transactions
 * Notifier"), through the outbox, for a program with a partner block: `{status, date,
 * description, transaction}` (`description` is the notifier's value for the reason, errors/table.ts),
 * the transaction object as recorded (last four digits only).
 */
export async function notifyTransaction(ctx: ProcessContext, program: Program, rec: TransactionObject, d: Decision): Promise<void> {
  if (ctx.partners.get(program.configId) === undefined) return;
  const transaction = {
    id: rec.id, balanceId: rec.balanceId, resourceId: rec.resourceId, resource: rec.resource, cardId: rec.cardId,
    externalTransactionId: rec.externalTransactionId, referenceExternalTransactionId: rec.referenceExternalTransactionId,
    type: rec.type, category: rec.category, amount: rec.amount, currency: rec.currency, originalAmount: rec.originalAmount,
    originalCurrency: rec.originalCurrency, status: rec.status, description: rec.description, date: rec.date,
    referenceExternalTransactionDate: rec.referenceExternalTransactionDate, transactionData: { ...rec.transactionData },
  };
  await enqueueOnce(ctx, {
    kind: 'notification', configId: program.configId, method: 'POST', path: '/notifications/transaction',
    body: { status: d.processing, date: rec.date, description: notifierDescription(d.reason), transaction }, idempotencyKey: uuidOf(`notify|${rec.id}`),
  });
}

// The partner calls a message implies (docs/partners.md), as values: the transaction objects of
// `debit` / `credit` asked within the budget, and the calls the partner cannot refuse
// (`force-debit`, `force-credit`, `reversal`, `PUT` cleared, the transaction notification) that
// the executor writes to the durable outbox before the answer. Every call about one transaction
// carries the ledger's transaction id as `transactionId`, and a key and object id derived from
// the call and that id, so a repeated message, or a retry, repeats the same call. Pure: the
// executor (run/partner.ts) sends or enqueues what these return.
import { createHash } from 'node:crypto';
import { uuidFromHash } from '../../../ledger/keys.js';
import type { Request, Decision } from '../decision.js';
import type { Program } from '../../../stores/programs.js';
import type { CardRecord } from '../../../stores/cards.js';
import { notifierDescription } from '../../../iso/reasons.js';
import { buildPartnerTransaction } from '../../../adapters/partner-transaction.js';
import { endpointPath, type PartnerEndpoint, type PartnerTransaction, type PartnerTransactionStatus, type PartnerTransactionType } from '../../../adapters/partner-types.js';
import type { EnqueueInput, OutboxKind } from '../../../adapters/outbox.js';
import type { TxKind } from '../../../iso/processing.js';
import type { TransactionObject } from '../../../stores/records.js';
import { captureModeOf, type Priced } from './pricing.js';
import { merchantLocation } from '../render.js';
import { text } from '../../../iso/wire.js';

/** A UUID v4 made from `seed` (sha-256): the same call about the same transaction gets the same one. */
export function uuidOf(seed: string): string {
  return uuidFromHash(createHash('sha256').update(seed).digest());
}

const TYPE_BY_SEED: Readonly<Record<string, PartnerTransactionType>> = {
  POS: 'pos', ATM: 'atm', Cashback: 'cashback_at_pos', Refund: 'adjustment', Payment: 'payment', ACCOUNT_VERIFICATION: 'pos',
};

/** What a partner call is about: a checked message, or a reversal's card and program. */
export interface PartnerSubject {
  readonly card: CardRecord;
  readonly program: Program;
  readonly txId: string;
  readonly nowMs: number;
  readonly amountMinor: number;
  readonly priced: Priced | null;
  readonly kind: TxKind;
  readonly pc: { readonly type: string };
}

/**
 * The transaction object of a call about `c`. `amount` is what the cardholder pays or receives in
 * the balance's currency, fees included; `originalAmount`/`originalCurrency` are field 4/49.
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

/** The calls a partner cannot refuse, as outbox kinds, and their endpoints. */
export type OutboxCallKind = Exclude<OutboxKind, 'notification'>;
const ENDPOINT_OF: Readonly<Record<OutboxCallKind, PartnerEndpoint>> = {
  'force-debit': 'forceDebit', 'force-credit': 'forceCredit', reversal: 'reversal', clear: 'clearTransaction',
};

/** The outbox entry of a call the partner cannot refuse: its key derives from the call and the transaction. */
export function outboxCall(program: Program, kind: OutboxCallKind, tx: PartnerTransaction): EnqueueInput {
  const endpoint = ENDPOINT_OF[kind];
  return {
    kind, configId: program.configId, method: kind === 'clear' ? 'PUT' : 'POST',
    path: endpointPath(endpoint, { transactionId: tx.transactionId }),
    body: tx, idempotencyKey: uuidOf(`${kind}|${tx.transactionId}|${tx.id}`),
  };
}

/** What an advice, clearing or reversal reports to the partner of a partner-mode program. */
export type Report =
  | { readonly kind: 'force-debit' | 'force-credit'; readonly status: PartnerTransactionStatus; readonly amountMinor?: number }
  | { readonly kind: 'cleared'; readonly originalTxId: string; readonly amountMinor: number; readonly fromHoldMinor: number; readonly releasedMinor: number }
  | { readonly kind: 'reversed'; readonly originalTxId: string; readonly movedMinor: number; readonly debitedBack: boolean };

/**
 * The outbox entries of a report (nothing for an INTERNAL program): `force-debit` for a forced hold
 * or post, `force-credit` for a forced credit or a scheme reversal that gave money back (type
 * adjustment, status REVERSED, the original as reference; `force-debit` when it debited a credit
 * back), `PUT` CLEARED for the clearing of an EXTERNAL_BALANCE authorization the partner took,
 * and a `force-credit` of what a clearing for less gave back.
 */
export function reportCalls(req: Request, c: PartnerSubject, what: Report): EnqueueInput[] {
  const program = c.program;
  if (program.mode === 'INTERNAL') return [];
  if (what.kind === 'cleared') {
    if (program.mode !== 'EXTERNAL_BALANCE') return [];
    const out: EnqueueInput[] = [];
    if (what.fromHoldMinor > 0) {
      out.push(outboxCall(program, 'clear', partnerTransaction(req, c, 'clear', { status: 'CLEARED', transactionId: what.originalTxId, amountMinor: what.amountMinor })));
    }
    if (what.releasedMinor > 0) {
      out.push(outboxCall(program, 'force-credit', partnerTransaction(req, c, 'clear-rest', {
        status: 'CLEARED', type: 'adjustment', transactionId: c.txId, referenceTransactionId: what.originalTxId, amountMinor: what.releasedMinor,
      })));
    }
    return out;
  }
  if (what.kind === 'reversed') {
    if (what.movedMinor <= 0) return [];
    const kind = what.debitedBack ? 'force-debit' : 'force-credit';
    return [outboxCall(program, kind, partnerTransaction(req, c, kind, {
      status: 'REVERSED', type: 'adjustment', transactionId: c.txId, referenceTransactionId: what.originalTxId, amountMinor: what.movedMinor,
    }))];
  }
  return [outboxCall(program, what.kind, partnerTransaction(req, c, what.kind, {
    status: what.status, ...(what.amountMinor === undefined ? {} : { amountMinor: what.amountMinor }),
  }))];
}

/**
 * The Legacy Transactions Notifier call of a recorded message: `{status, date, description,
 * transaction}` (`description` is the notifier's value for the reason, errors/table.ts), the
 * transaction object as recorded (last four digits only).
 */
export function transactionNotification(program: Program, rec: TransactionObject, d: Decision): EnqueueInput {
  const transaction = {
    id: rec.id, balanceId: rec.balanceId, resourceId: rec.resourceId, resource: rec.resource, cardId: rec.cardId,
    externalTransactionId: rec.externalTransactionId, referenceExternalTransactionId: rec.referenceExternalTransactionId,
    type: rec.type, category: rec.category, amount: rec.amount, currency: rec.currency, originalAmount: rec.originalAmount,
    originalCurrency: rec.originalCurrency, status: rec.status, description: rec.description, date: rec.date,
    referenceExternalTransactionDate: rec.referenceExternalTransactionDate, transactionData: { ...rec.transactionData },
  };
  return {
    kind: 'notification', configId: program.configId, method: 'POST', path: endpointPath('notify', { kind: 'transaction' }),
    body: { status: d.processing, date: rec.date, description: notifierDescription(d.reason), transaction }, idempotencyKey: uuidOf(`notify|${rec.id}`),
  };
}

/**
 * What a completion advice tells a partner-mode program's partner, under the authorization's
 * transaction id: a force-debit of what the new amount added to the hold, a force-credit
 * (adjustment) of what it released. Nothing for an INTERNAL program or when nothing moved.
 */
export function completionCalls(req: Request, c: PartnerSubject, originalTxId: string, forcedMinor: number, releasedMinor: number): EnqueueInput[] {
  if (c.program.mode === 'INTERNAL') return [];
  const out: EnqueueInput[] = [];
  if (forcedMinor > 0) out.push(outboxCall(c.program, 'force-debit', partnerTransaction(req, c, 'complete-more', { status: 'AUTHORIZED', transactionId: originalTxId, amountMinor: forcedMinor })));
  if (releasedMinor > 0) {
    out.push(outboxCall(c.program, 'force-credit', partnerTransaction(req, c, 'complete-less', {
      status: 'AUTHORIZED', type: 'adjustment', transactionId: c.txId, referenceTransactionId: originalTxId, amountMinor: releasedMinor,
    })));
  }
  return out;
}

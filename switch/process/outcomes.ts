// Decisions shared by several handlers: a refusal before the ledger, a decision about a checked
// message, a posted card credit, and an approval that only reads the balance (inquiry, or a
// refund authorization that is credited when its clearing arrives).
import type { ProcessContext } from './context.js';
import { decide, type Decision, type Request } from './decision.js';
import type { Checked, Refused } from './request.js';
import { fromLedger } from '../../iso/reasons.js';
import type { ApprovalRecord } from '../../ledger/index.js';
import { creditArgs } from './holds.js';
import { partnerCredit, partnerOf } from './partner.js';
import { partnerDeclineReason } from '../../adapters/partner-client.js';

/** The decision of a message refused before the ledger: the record still names its card, transaction and amount. */
export function refused(req: Request, r: Refused): Decision {
  return decide(req, { reason: r.reason, card: r.card, txId: r.txId, amountMinor: r.amountMinor, priced: r.priced, reasonDetail: r.detail, issuerAuth: r.issuerAuth });
}

/** A decision about a checked message: its card, transaction, amount and price, plus `d`. */
export function aboutChecked(req: Request, c: Checked, d: Partial<Decision> & { readonly reason: Decision['reason'] }): Decision {
  return decide(req, { card: c.card, txId: c.txId, amountMinor: c.amountMinor, priced: c.priced, issuerAuth: c.issuerAuth, ...d });
}

/**
 * The record and cached answer of the approval a debit would get (Request.recordApproval), for
 * its hold to write when it approves; undefined when the request carries no such renderer. The
 * decision rendered is the one localHold / localDebit return on approval, field 54 with zero
 * balances (the hold writes the real ones in).
 */
export function approvalRecord(req: Request, c: Checked, op: 'HOLD' | 'POST'): ApprovalRecord | undefined {
  if (req.recordApproval === undefined) return undefined;
  return req.recordApproval(aboutChecked(req, c, {
    reason: 'APPROVED', balance: { currencyN3: c.currencyN3, availableMinor: 0, blockedMinor: 0 },
    ledger: { op, forced: false, standIn: false, approved: true }, original: true,
  }));
}

/**
 * A refund (20) or payment credit (28) posted at once: the user is credited, the program's deposit
 * credited back (ledger `credit`); in a partner mode the partner's `credit` decides first.
 */
export async function postCredit(ctx: ProcessContext, req: Request, c: Checked, idempotencyKey: string): Promise<Decision> {
  return (await partnerCredit(ctx, req, c, () => localCredit(ctx, req, c, idempotencyKey))) ?? localCredit(ctx, req, c, idempotencyKey);
}

async function localCredit(ctx: ProcessContext, req: Request, c: Checked, idempotencyKey: string): Promise<Decision> {
  const r = await ctx.ledger.credit(creditArgs(c, { idempotencyKey }));
  return aboutChecked(req, c, {
    reason: r.ok ? 'APPROVED' : fromLedger(r.reason), status: 'CLEARED', ledger: { op: 'CREDIT', approved: r.ok }, original: r.ok,
    balance: { currencyN3: c.currencyN3, availableMinor: r.availableMinor, blockedMinor: r.blockedMinor },
  });
}

/**
 * Approved with field 54 read from the user balance, moving nothing: a balance inquiry, or a
 * refund's 0100. In an EXTERNAL_BALANCE program the balance is the partner's: read with its
 * `GET /users/{userId}/balances/{balanceId}` within the budget (available = the partner's amount;
 * ledger = that plus what the switch still holds for it).
 */
export async function approveWithBalance(ctx: ProcessContext, req: Request, c: Checked): Promise<Decision> {
  const client = c.program.mode === 'EXTERNAL_BALANCE' ? partnerOf(ctx, c.program) : null;
  if (client !== null) {
    const leftMs = c.program.budgetMs - (ctx.now() - c.startedMs);
    const r = await client.getBalance(c.card.customerId, c.card.balanceId, { timeoutMs: Math.min(leftMs, c.program.partner?.timeoutMs ?? leftMs) });
    if (!r.ok) return aboutChecked(req, c, { reason: partnerDeclineReason(r) });
    const local = await ctx.ledger.getUserBalance(c.card.balanceId);
    return aboutChecked(req, c, { reason: 'APPROVED', balance: { currencyN3: c.currencyN3, availableMinor: r.body.amount, blockedMinor: local?.blockedMinor ?? 0 } });
  }
  const b = await ctx.ledger.getUserBalance(c.card.balanceId);
  if (b === null) return aboutChecked(req, c, { reason: 'BALANCE_NOT_FOUND' });
  return aboutChecked(req, c, { reason: 'APPROVED', balance: { currencyN3: c.currencyN3, availableMinor: b.availableMinor, blockedMinor: b.blockedMinor } });
}

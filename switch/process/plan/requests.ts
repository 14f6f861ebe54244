// 0100 authorization (dual message) and 0200 financial request (single message), after the checks
// of checks.ts. They differ only in how a debit takes the money:
// - 0100: a debit (00, 01, 09) is one deposit-then-user hold, cleared later by an 0220; a
//   zero-amount purchase is an account verification (85, nothing held); a refund (20) is approved
//   and holds nothing (credited when its 0220 clears); a payment credit (28) posts at once; a
//   balance inquiry (30) moves nothing.
// - 0200: a debit is checked like an 0100 hold and posted at once (status CLEARED); a refund or a
//   payment credit posts at once; a balance inquiry moves nothing.
import type { Request } from '../decision.js';
import { examine, isRefused } from './checks.js';
import { refusedDecision } from './conclude.js';
import type { Checked, Facts, Plan } from './types.js';

/**
 * A partial approval is possible: a purchase (processing code 00; never cash, cashback or a
 * credit) whose terminal said it accepts one (48.61 position 1 `1`), in any currency the debit
 * could be priced in (field 4 of the answer then carries the amount approved in field 49's).
 */
export function partialAllowed(c: Checked): boolean {
  return c.partialAccepted && c.pc.code === '00' && c.priced !== null;
}

/** The plan of an 0100 (or its repeat 0101). */
export function planAuthorization(req: Request, facts: Facts): Plan {
  const c = examine(req, facts, true);
  if (isRefused(c)) return { op: 'ANSWER', decision: refusedDecision(req, c) };
  if (c.accountVerification) return { op: 'ACCOUNT_VERIFICATION', c };
  switch (c.kind) {
    case 'DEBIT': return { op: 'DEBIT', c, posting: 'HOLD', partial: partialAllowed(c) };
    case 'PAYMENT_CREDIT': return { op: 'CREDIT', c, idempotencyKey: `auth:${c.txId}` };
    case 'REFUND': return { op: 'BALANCE', c };
    case 'INQUIRY': return { op: 'BALANCE', c };
  }
}

/** The plan of an 0200 (or its repeat 0201). */
export function planFinancial(req: Request, facts: Facts): Plan {
  const c = examine(req, facts, true);
  if (isRefused(c)) return { op: 'ANSWER', decision: refusedDecision(req, c) };
  switch (c.kind) {
    case 'DEBIT': return { op: 'DEBIT', c, posting: 'POST', partial: partialAllowed(c) };
    case 'REFUND': return { op: 'CREDIT', c, idempotencyKey: `fin:${c.txId}` };
    case 'PAYMENT_CREDIT': return { op: 'CREDIT', c, idempotencyKey: `fin:${c.txId}` };
    case 'INQUIRY': return { op: 'BALANCE', c };
  }
}

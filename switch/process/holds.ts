// The one place the arguments of a card debit (hold or post) are built from a checked message:
// every hold — an 0100's, an 0120's forced one, a stand-in approval's at the deadline — gets the
// same fees, per-MCC expiry (SPEC §2.3), limits and orphan key, so no path can drift from the others.
import { holdExpiresAtMs, type HoldArgs, type HoldGuard } from '../../ledger/index.js';
import type { Checked } from './request.js';

export interface DebitOptions {
  /** The ledger operation's idempotency key: one per message and purpose (`auth:`, `fin:`, `advice:`, `standin:` …). */
  readonly idempotencyKey: string;
  /** Skip the funds checks (advices, stand-in approvals): the balance may go below zero. */
  readonly forced?: boolean;
  /** Transaction id to post under, when not the message's own (never for a hold). */
  readonly txId?: string;
  /** The request's guard (Request.guard): only the first ledger call of an 0100/0200 debit carries it. */
  readonly guard?: HoldGuard | undefined;
}

/** Arguments of `ledger.hold()` for a checked debit (an authorization hold, expiring by the program's per-MCC rule). */
export function holdArgs(c: Checked, o: DebitOptions): HoldArgs {
  return { ...debitArgs(c, o), expiresAtMs: holdExpiresAtMs(c.program, c.mcc, c.nowMs) };
}

/** Arguments of `ledger.debit()` for a checked debit (posted at once: 0200, or a forced post from 0220). */
export function debitArgs(c: Checked, o: DebitOptions): Omit<HoldArgs, 'expiresAtMs'> {
  return {
    idempotencyKey: o.idempotencyKey, txId: o.txId ?? c.txId, balanceId: c.card.balanceId, depositId: c.depositId,
    amountMinor: c.amountMinor, feeMinor: c.priced?.feeMinor ?? 0, fxFeeMinor: c.priced?.fxFeeMinor ?? 0, companyId: c.companyId,
    nowMs: c.nowMs,
    ...(o.forced === true ? { forced: true } : {}),
    ...(c.limits === undefined ? {} : { limits: c.limits }),
    ...(c.orphanTxId === undefined ? {} : { orphanTxId: c.orphanTxId }),
    ...(o.guard === undefined ? {} : { guard: o.guard }),
  };
}

/** Arguments of `ledger.credit()` for a checked refund or payment credit. */
export function creditArgs(c: Checked, o: { readonly idempotencyKey: string; readonly txId?: string }) {
  return {
    type: c.kind === 'REFUND' ? 'REFUND' as const : 'PAYMENT_CREDIT' as const, idempotencyKey: o.idempotencyKey, txId: o.txId ?? c.txId,
    balanceId: c.card.balanceId, amountMinor: c.amountMinor, depositId: c.depositId, nowMs: c.nowMs,
  };
}

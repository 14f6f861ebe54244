// The one place the arguments of a card debit (hold or post) are built from a checked message:
// every hold — an 0100's, an 0120's forced one, a stand-in approval's at the deadline — gets the
// same fees, per-MCC expiry (SPEC §2.3), velocity counters (daily limits) and orphan key, so no path
// can drift from the others.
import { holdExpiresAtMs, type ApprovalRecord, type HoldArgs, type HoldGuard, type IncrementArgs } from '../../../ledger/index.js';
import type { Checked } from './types.js';

export interface DebitOptions {
  /**
   * The ledger operation's idempotency key: one per message and purpose (`advice:`, `standin:` …),
   * or null for the message's own authorization or single-message debit (0100, 0200): the
   * transaction hash is then the idempotency record (HoldArgs.idempotencyKey), one write less per
   * approval.
   */
  readonly idempotencyKey: string | null;
  /** Skip the funds checks (advices, stand-in approvals): the balance may go below zero. */
  readonly forced?: boolean;
  /** Transaction id to post under, when not the message's own (never for a hold). */
  readonly txId?: string;
  /** The remembered card's guard (run/run.ts): only the first ledger call of an 0100/0200 debit carries it. */
  readonly guard?: HoldGuard | undefined;
  /** The user's funds are the partner's to decide (EXTERNAL_BALANCE, HoldArgs.userUnchecked). */
  readonly userUnchecked?: boolean;
  /** The message's record and cached answer, written by the hold when it approves (HoldArgs.record). */
  readonly record?: ApprovalRecord | undefined;
}

/** Arguments of `ledger.hold()` for a checked debit (an authorization hold, expiring by the program's per-MCC rule). */
export function holdArgs(c: Checked, o: DebitOptions): HoldArgs {
  return debitArgsOf(c, o, holdExpiresAtMs(c.program, c.mcc, c.nowMs));
}

/** Arguments of `ledger.debit()` for a checked debit (posted at once: 0200, or a forced post from 0220). */
export function debitArgs(c: Checked, o: DebitOptions): Omit<HoldArgs, 'expiresAtMs'> {
  return debitArgsOf(c, o, 0);
}

/**
 * One object literal of one shape for every debit, absent options as undefined (the ledger reads
 * them so): built per message on the hot path, where object spreads cost an allocation each.
 * `expiresAtMs` is ignored by `ledger.debit()`.
 */
function debitArgsOf(c: Checked, o: DebitOptions, expiresAtMs: number): HoldArgs {
  return {
    idempotencyKey: o.idempotencyKey, txId: o.txId ?? c.txId, balanceId: c.card.balanceId, depositId: c.depositId,
    amountMinor: c.amountMinor, feeMinor: c.priced?.feeMinor ?? 0, fxFeeMinor: c.priced?.fxFeeMinor ?? 0, companyId: c.companyId,
    nowMs: c.nowMs, expiresAtMs,
    forced: o.forced === true ? true : undefined,
    userUnchecked: o.userUnchecked === true ? true : undefined,
    counters: c.limits,
    orphanTxId: c.orphanTxId,
    guard: o.guard,
    record: o.record,
  };
}

/** Arguments of `ledger.credit()` for a checked refund or payment credit. */
export function creditArgs(c: Checked, o: { readonly idempotencyKey: string; readonly txId?: string }) {
  return {
    type: c.kind === 'REFUND' ? 'REFUND' as const : 'PAYMENT_CREDIT' as const, idempotencyKey: o.idempotencyKey, txId: o.txId ?? c.txId,
    balanceId: c.card.balanceId, amountMinor: c.amountMinor, depositId: c.depositId, nowMs: c.nowMs,
  };
}

/**
 * Arguments of `ledger.incrementHold()` for an incremental authorization (Checked.incrementOf):
 * the increment's own amount, fees, counters and expiry, added to the original's hold. Its own
 * transaction hash is its idempotency record, as an authorization's is.
 */
export function incrementArgs(c: Checked, originalTxId: string, userUnchecked: boolean): IncrementArgs {
  return {
    idempotencyKey: null, originalTxId, incrementTxId: c.txId, balanceId: c.card.balanceId, depositId: c.depositId,
    amountMinor: c.amountMinor, feeMinor: c.priced?.feeMinor ?? 0, fxFeeMinor: c.priced?.fxFeeMinor ?? 0, companyId: c.companyId,
    expiresAtMs: holdExpiresAtMs(c.program, c.mcc, c.nowMs), nowMs: c.nowMs, ...(c.limits === undefined ? {} : { counters: c.limits }),
    ...(userUnchecked ? { userUnchecked: true } : {}),
  };
}

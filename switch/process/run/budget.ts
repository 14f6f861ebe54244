// The latency budget of a money-moving request (docs/architecture.md): the ledger call of an 0100/0200 debit
// races the program's `budgetMs`, counted from when the deciding thread took the message. When
// the budget runs out first the answer comes from the program's stand-in rule, and whatever the
// call may still do in the ledger is settled to match it (when the call fails instead, Redis
// unreachable or a command timeout, it is answered 96 and undone), so the wire answer and the
// ledger agree:
// - DECLINE (default): answered 91; once the call has settled, a hold it made is released and a
//   debit it posted (0200) credited back; a call that failed as a whole is undone all the same
//   (the transaction is remembered as reversed, so a hold landing later holds nothing). A call
//   that moved nothing of this message's (a decline, or a repeat: a replayed approval, or a
//   failed guard) leaves the transaction, which may be the first answer's, as it is.
// - APPROVE_UP_TO: at or under `standIn.limit`, answered 00 and the hold is forced (an advice-like
//   stand-in approval: it may take the balance below zero; if the first call approved, the forced
//   one finds the transaction and moves nothing more). Above the limit: as DECLINE.
// Compensation (compensation.ts) runs on the same Redis connection as the call, after it, and is
// retried with backoff while Redis is unreachable.
import type { ProcessContext } from './context.js';
import type { Checked, Posting } from '../plan/types.js';
import { performance } from 'node:perf_hooks';
import { compensate, undoTransaction } from './compensation.js';
import { holdArgs } from '../plan/ledger-args.js';
import { PreconditionFailedError, type HoldResult } from '../../../ledger/index.js';


/**
 * The deadlines of one batch: its messages share the time they were taken, so one timer per
 * distinct budget serves them all (no timer per message). Cleared when the batch is decided.
 */
export class BatchDeadlines {
  private readonly byBudget = new Map<number, { at: Promise<'DEADLINE'>; timer: NodeJS.Timeout }>();
  constructor(private readonly takenMs: number, private readonly now: () => number) {}

  /** Resolves when `budgetMs` from the batch's start has passed. */
  of(budgetMs: number): Promise<'DEADLINE'> {
    let d = this.byBudget.get(budgetMs);
    if (d === undefined) {
      let timer: NodeJS.Timeout | undefined;
      const at = new Promise<'DEADLINE'>((resolve) => { timer = setTimeout(resolve, Math.max(0, this.takenMs + budgetMs - this.now()), 'DEADLINE'); });
      d = { at, timer: timer! };
      this.byBudget.set(budgetMs, d);
    }
    return d.at;
  }

  clear(): void {
    for (const d of this.byBudget.values()) clearTimeout(d.timer);
  }
}

/** How a budgeted ledger call ended: decided by the ledger (with the call's duration), or by the stand-in rule at the deadline. */
export type BudgetOutcome<T> = { kind: 'decided'; result: T; scriptSeconds: number } | { kind: 'standInApproved' } | { kind: 'standInDeclined' };

/**
 * Runs `start()` within the budget of `c.program`, counted from `c.startedMs`, against the batch's
 * shared `deadlines`. A call that fails is compensated (undone) and its error rethrown: the batch
 * answers it as a system error (96).
 */
export async function withinBudget<T>(ctx: ProcessContext, c: Checked, mode: Posting, deadlines: BatchDeadlines, start: () => Promise<T>): Promise<BudgetOutcome<T>> {
  // Spent already (the card lookup waited): the ledger is not asked at all.
  if (ctx.now() - c.startedMs >= c.program.budgetMs) return standIn(ctx, c, mode, null);
  const t0 = performance.now();
  const call = start();
  let r: T | 'DEADLINE';
  try {
    r = await Promise.race([call, deadlines.of(c.program.budgetMs)]);
  } catch (err) {
    // A failed guard did nothing (the batch decides the message again); anything else may have.
    if (!(err instanceof PreconditionFailedError)) compensate(() => undo(ctx, c));
    throw err;
  }
  if (r !== 'DEADLINE') return { kind: 'decided', result: r, scriptSeconds: (performance.now() - t0) / 1000 };
  call.catch(() => { /* the stand-in answer stands; compensation below settles the ledger */ });
  return standIn(ctx, c, mode, call);
}

/** `call`: the ledger call that went out and may still land (null: none did), which a decline must undo. */
async function standIn(ctx: ProcessContext, c: Checked, mode: Posting, call: Promise<unknown> | null): Promise<BudgetOutcome<never>> {
  const s = c.program.standIn;
  if (mode === 'HOLD' && s.rule === 'APPROVE_UP_TO' && s.limit !== undefined && c.amountMinor <= s.limit) {
    compensate(() => forceHold(ctx, c));
    return { kind: 'standInApproved' };
  }
  if (call !== null) compensate(() => undoWhatLanded(ctx, c, call));
  return { kind: 'standInDeclined' };
}

/**
 * Undoes the debit of a call answered by the stand-in decline, once the call has settled: when it
 * approved (not as a replay), or failed in a way that may have landed. A call that declined, that
 * replayed an approval given to an earlier answer of the same message (a repeat), or whose guard
 * failed (a repeat decided with a remembered card: nothing was done) moved nothing of this
 * message's, and the transaction, which may be the first answer's, is left as it is.
 */
async function undoWhatLanded(ctx: ProcessContext, c: Checked, call: Promise<unknown>): Promise<void> {
  try {
    const r = await (call as Promise<HoldResult>);
    if (!r.approved || r.replay) return;
  } catch (err) {
    if (err instanceof PreconditionFailedError) return;
  }
  await undo(ctx, c);
}

/** A stand-in approval's hold: forced, and built like every other hold (per-MCC expiry, fees, limits counted). */
async function forceHold(ctx: ProcessContext, c: Checked): Promise<void> {
  await ctx.ledger.hold(holdArgs(c, { idempotencyKey: `standin:${c.txId}`, forced: true }));
}

/** Releases the hold, or remembers the transaction as reversed; a posted 0200 debit is credited back (one ledger `reverse`). */
function undo(ctx: ProcessContext, c: Checked): Promise<void> {
  return undoTransaction(ctx.ledger, c.card.balanceId, c.txId, c.card.id);
}

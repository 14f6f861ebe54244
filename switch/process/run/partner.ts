// The partner's part of the effects (docs/partners.md): a `debit` or `credit` asked within what
// is left of the budget, and the calls a partner cannot refuse written to the durable outbox
// (adapters/outbox.ts) before the wire answer, for the main thread to deliver. What to ask and
// what to enqueue is decided by the plan (plan/partner-calls.ts, plan/conclude.ts); this only does it.
import { performance } from 'node:perf_hooks';
import type { ProcessContext } from './context.js';
import type { Request } from '../decision.js';
import type { Checked, PartnerOutcome } from '../plan/types.js';
import type { Program } from '../../../stores/programs.js';
import { partnerDeclineReason, type PartnerClient } from '../../../adapters/partner-client.js';
import type { PartnerTransaction, PartnerTransactionStatus } from '../../../adapters/partner-types.js';
import type { EnqueueInput } from '../../../adapters/outbox.js';
import { partnerTransaction, uuidOf } from '../plan/partner-calls.js';
import { partnerTransactionIdOf } from '../plan/conclude.js';

/** The partner client of a program in a partner mode, or null for an INTERNAL program. */
export function partnerOf(ctx: ProcessContext, program: Program): PartnerClient | null {
  return program.mode === 'INTERNAL' ? null : ctx.partners.get(program.configId) ?? null;
}

/**
 * Writes calls the partner cannot refuse to the outbox (awaited: before the wire answer). A
 * repeat of the message that reaches here (a duplicate racing its original) finds its key taken
 * with a body of another date: the first call about the transaction is durable already, so that
 * is done, not an error.
 */
export async function enqueueAll(ctx: ProcessContext, inputs: readonly EnqueueInput[]): Promise<void> {
  for (const input of inputs) {
    try {
      await ctx.outbox.enqueue(input);
    } catch (err) {
      if ((err as { code?: string }).code !== 'OUTBOX_ERR_KEY_REUSED') throw err;
    }
  }
}

/**
 * Asks the partner's `debit` (or `credit`) for a checked message within what is left of its budget
 * (at most the program's partner timeout). `answered: false`: no answer the switch can act on
 * (timeout, unreachable, 5xx, malformed, breaker open) — the partner may have taken it. `tx`: the
 * transaction object asked about, for a later `reversal` or `force-debit` of the same transaction.
 */
export async function askPartner(
  ctx: ProcessContext, client: PartnerClient, req: Request, c: Checked, call: 'debit' | 'credit', status: PartnerTransactionStatus,
): Promise<{ outcome: PartnerOutcome; tx: PartnerTransaction }> {
  const tx = partnerTransaction(req, c, call, { status, transactionId: partnerTransactionIdOf(c) });
  const leftMs = c.program.budgetMs - (ctx.now() - c.startedMs);
  const timeoutMs = Math.min(leftMs, c.program.partner?.timeoutMs ?? leftMs);
  const key = uuidOf(`${call}|${c.txId}`);
  const t0 = performance.now();
  const r = call === 'debit' ? await client.debit(tx, key, { timeoutMs }) : await client.credit(tx, key, { timeoutMs });
  const timing = { partner: c.program.configId, endpoint: call, outcome: r.ok ? 'ok' : r.kind, seconds: (performance.now() - t0) / 1000 };
  if (r.ok) return { outcome: { approved: true, reason: 'APPROVED', answered: true, timing }, tx };
  return { outcome: { approved: false, reason: partnerDeclineReason(r), answered: r.kind === 'DECLINED', timing }, tx };
}

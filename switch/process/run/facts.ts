// The state a planner reads (plan/types.ts Facts), gathered before planning: the card (read with
// the batch's duplicate lookups, or remembered by this thread), its program, and the program's
// partner balances in the card's currency (ids never change once created: cached per thread).
import type { ProcessContext } from './context.js';
import type { CardRecord } from '../../../stores/cards.js';
import type { Program } from '../../../stores/programs.js';
import type { Facts } from '../plan/types.js';

/** How long an absent partner balance is remembered as absent before it is looked up again, ms. */
const PARTNER_ABSENT_RECHECK_MS = 1000;

/** The facts of a message about `card` (null: no card, or none found). */
export async function factsOf(ctx: ProcessContext, card: CardRecord | null): Promise<Facts> {
  const nowMs = ctx.now();
  if (card === null) return { card, program: undefined, depositId: null, companyId: null, nowMs };
  const program = ctx.programs.byId(card.configId);
  if (program === undefined) return { card, program, depositId: null, companyId: null, nowMs };
  const depositId = await partnerFor(ctx, program, 'DEPOSIT', card.currency);
  const companyId = chargesFees(program) ? await partnerFor(ctx, program, 'COMPANY', card.currency) : null;
  return { card, program, depositId, companyId, nowMs };
}

/** A program that charges any fee (channel or FX): only then is its COMPANY balance needed. */
function chargesFees(p: Program): boolean {
  const f = p.fees;
  return f.fxBps !== 0 || f.POS.fixed !== 0 || f.POS.bps !== 0 || f.ECOM.fixed !== 0 || f.ECOM.bps !== 0 || f.ATM.fixed !== 0 || f.ATM.bps !== 0;
}

/** A partner balance of the program, cached per thread (ids never change once created; absence is re-checked after a second). */
async function partnerFor(ctx: ProcessContext, program: Program, type: 'DEPOSIT' | 'COMPANY', currency: string): Promise<string | null> {
  const key = type + ':' + program.configId + ':' + currency;
  const hit = ctx.depositIds.get(key);
  const now = ctx.now();
  if (hit !== undefined && (hit.id !== null || now - hit.checkedAtMs < PARTNER_ABSENT_RECHECK_MS)) return hit.id;
  const found = await ctx.ledger.findPartnerBalance(program.configId, type, currency);
  const id = found === null ? null : found.id;
  ctx.depositIds.set(key, { id, checkedAtMs: now });
  return id;
}

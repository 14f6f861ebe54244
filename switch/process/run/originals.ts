// Finding the original a reversal or clearing refers to (SPEC §2.3), in order:
// 1. field 90 names it: the transaction id of (card, field 90's MTI, STAN, date/time, acquirer) and
//    this message's own field 41 (none: the id without a terminal);
// 2. failing that, the card's approved originals with that same field-90 identity whatever their
//    field 41, when this message has no field 41 (or theirs is empty): "a reversal without field 41
//    matches an original from any terminal";
// 3. failing that, the card's approved originals with this field 37 (and, for a clearing, field 38).
// Each step asks the ledger through `apply`, which performs the reversal or clearing and says
// whether the ledger knew the transaction. Several candidates in step 2 or 3 are
// AMBIGUOUS_REFERENCED_TRANSACTION.
import type { ProcessContext } from './context.js';
import type { CardRecord } from '../../../stores/cards.js';
import type { IsoFields } from '../../../iso/codec.js';
import { originalIdentity } from '../../../stores/records.js';
import { authorizationId, namedTransactionId, text } from '../../../iso/wire.js';

export type OriginalMatch =
  | { readonly found: true; readonly txId: string }
  | { readonly found: false; readonly ambiguous: boolean; /** The id field 90 names, if any: where an orphan reversal is remembered. */ readonly named: string | null };

/**
 * Finds the original and applies the operation to it. `apply(txId)` resolves true when the ledger
 * knew `txId` (and acted on it), false when it did not. `byAuthorizationId`: a clearing also
 * narrows step 3 by field 38.
 */
export async function matchOriginal(
  ctx: ProcessContext, f: IsoFields, card: CardRecord, apply: (txId: string) => Promise<boolean>, byAuthorizationId: boolean,
): Promise<OriginalMatch> {
  const f41 = text(f, 41);
  const named = namedTransactionId(card.id, f);
  if (named !== null && await apply(named)) return { found: true, txId: named };

  if (named !== null) {
    const identity = originalIdentity(named);
    const own = named.slice(identity.length + 1);
    // Without field 41 any terminal matches; with one, an original without a terminal does too.
    const candidates = (await ctx.records.byOriginalIdentity(card.balanceId, identity))
      .filter((c) => c !== named && (f41 === undefined || c.slice(identity.length + 1) === '' || c.slice(identity.length + 1) === own));
    const r = await tryCandidates(candidates, apply);
    if (r !== null) return r.found ? r : { ...r, named };
  }

  const rrn = text(f, 37);
  if (rrn !== undefined) {
    const f38 = byAuthorizationId ? text(f, 38) : undefined;
    const candidates = (await ctx.records.byRetrievalReference(card.balanceId, card.id, rrn))
      .filter((c) => c !== named && (f38 === undefined || authorizationId(c) === f38));
    const r = await tryCandidates(candidates, apply);
    if (r !== null) return r.found ? r : { ...r, named };
  }
  return { found: false, ambiguous: false, named };
}

async function tryCandidates(candidates: readonly string[], apply: (txId: string) => Promise<boolean>): Promise<OriginalMatch | null> {
  if (candidates.length > 1) return { found: false, ambiguous: true, named: null };
  const only = candidates[0];
  if (only !== undefined && await apply(only)) return { found: true, txId: only };
  return null;
}

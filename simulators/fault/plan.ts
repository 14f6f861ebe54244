// The message sequence of a fault run, a function of the seed alone: which message, on which card,
// for how much, and which earlier original a reversal or clearing names. It is drawn before
// anything is sent, so a follow-up names its original whatever that original's answer turned out
// to be (a declined or unsent original makes the follow-up an orphan reversal, or a clearing
// without an original, which the switch force-posts).
import { SeededRandom } from '../partner/rng.js';

/** What a message is. `purchase` 0100/0200 debits are the originals follow-ups name. */
export type PlanKind = 'auth' | 'sale' | 'advice' | 'refund' | 'reversal' | 'partial-reversal' | 'clearing';

export interface PlannedMessage {
  i: number;
  kind: PlanKind;
  mti: '0100' | '0200' | '0120' | '0220' | '0400';
  /** Processing code, first two digits. */
  proc: string;
  card: number;
  /** Field 4, minor units. */
  amountMinor: number;
  /** The original a follow-up names (its index in the plan). */
  original?: number;
  /** Field 95's final amount of a partial reversal. */
  finalMinor?: number;
}

/** Share of each kind (they add up to 1). */
export const MIX: ReadonlyArray<readonly [PlanKind, number]> = [
  ['auth', 0.40], ['sale', 0.15], ['advice', 0.05], ['refund', 0.08],
  ['reversal', 0.10], ['partial-reversal', 0.05], ['clearing', 0.17],
];

/**
 * `count` messages over `cards` cards. A follow-up names an original sent at least `lag`
 * messages earlier (about a second at the run's rate, so the original's answer is in), each
 * original at most once; with none eligible yet, an 0100 is drawn instead.
 */
export function planMessages(seed: number, count: number, cards: number, lag: number): PlannedMessage[] {
  const rng = new SeededRandom(seed);
  const out: PlannedMessage[] = [];
  // Originals old enough to be named, not named yet: 0100s (clearable and reversible), 0200s (reversible).
  const auths: number[] = [];
  const sales: number[] = [];
  let ripe = 0;
  const take = (pool: number[]): number => {
    const k = Math.floor(rng.next() * pool.length);
    const j = pool[k] as number;
    pool[k] = pool[pool.length - 1] as number;
    pool.pop();
    return j;
  };
  for (let i = 0; i < count; i++) {
    for (; ripe <= i - lag; ripe++) {
      const m = out[ripe] as PlannedMessage;
      if (m.kind === 'auth') auths.push(ripe); else if (m.kind === 'sale') sales.push(ripe);
    }
    const r = rng.next();
    let kind: PlanKind = 'auth';
    let acc = 0;
    for (const [k, share] of MIX) { acc += share; if (r < acc) { kind = k; break; } }
    const card = Math.floor(rng.next() * cards);
    const amountMinor = 100 + Math.floor(rng.next() * 4_900);
    const shape = rng.next();
    if ((kind === 'reversal' || kind === 'partial-reversal') && auths.length + sales.length > 0) {
      const fromAuths = sales.length === 0 || (auths.length > 0 && shape < 0.6);
      const j = take(fromAuths ? auths : sales);
      const o = out[j] as PlannedMessage;
      const m: PlannedMessage = { i, kind, mti: '0400', proc: o.proc, card: o.card, amountMinor: o.amountMinor, original: j };
      if (kind === 'partial-reversal') m.finalMinor = Math.max(1, Math.floor(o.amountMinor * rng.next() * 0.9));
      else rng.next();
      out.push(m);
      continue;
    }
    if (kind === 'clearing' && auths.length > 0) {
      const j = take(auths);
      const o = out[j] as PlannedMessage;
      // Mostly the authorized amount; some for less, some for more.
      const d = rng.next();
      const cleared = shape < 0.7 ? o.amountMinor : shape < 0.85 ? Math.max(1, Math.floor(o.amountMinor * (1 - d * 0.5))) : o.amountMinor + 1 + Math.floor(o.amountMinor * d * 0.2);
      out.push({ i, kind, mti: '0220', proc: o.proc, card: o.card, amountMinor: cleared, original: j });
      continue;
    }
    rng.next();
    if (kind === 'reversal' || kind === 'partial-reversal' || kind === 'clearing') kind = 'auth';
    const mti = kind === 'auth' ? '0100' : kind === 'advice' ? '0120' : '0200';
    out.push({ i, kind, mti, proc: kind === 'refund' ? '20' : '00', card, amountMinor });
  }
  return out;
}

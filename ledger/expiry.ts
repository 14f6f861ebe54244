// How long an authorization hold lives before the sweeper releases it (SPEC §2.3): the program's
// holdExpiryDays (default 7), overridden per MCC. Without a per-MCC table of its own a program uses
// the usual long-stay defaults: 30 days for airlines/hotels/car rental MCCs 3501-3999, 7011, 7512.
// Table keys are an MCC ("7011") or an inclusive range ("3501-3999"); a single MCC wins over a range.

export interface HoldExpiryProgram {
  holdExpiryDays?: number | undefined;
  holdExpiryDaysByMcc?: Readonly<Record<string, number>> | undefined;
}

export const DEFAULT_HOLD_EXPIRY_DAYS = 7;
export const DEFAULT_HOLD_EXPIRY_DAYS_BY_MCC: Readonly<Record<string, number>> = { '3501-3999': 30, '7011': 30, '7512': 30 };

const DAY_MS = 86_400_000;

/**
 * Answers per program and MCC, computed once: a table may hold hundreds of keys (a program's
 * expanded ranges) and this runs for every authorization. At most 10,000 MCCs per program.
 */
const memo = new WeakMap<object, Map<string, number>>();
const MEMO_MAX = 10_000;

export function holdExpiryDays(program: HoldExpiryProgram, mcc: string | null | undefined): number {
  const table = program.holdExpiryDaysByMcc ?? DEFAULT_HOLD_EXPIRY_DAYS_BY_MCC;
  const base = program.holdExpiryDays ?? DEFAULT_HOLD_EXPIRY_DAYS;
  if (mcc === null || mcc === undefined || mcc === '') return base;
  let m = memo.get(program);
  if (m === undefined) { m = new Map(); memo.set(program, m); }
  const hit = m.get(mcc);
  if (hit !== undefined) return hit;
  const days = lookup(table, base, mcc);
  if (m.size < MEMO_MAX) m.set(mcc, days);
  return days;
}

function lookup(table: Readonly<Record<string, number>>, base: number, mcc: string): number {
  const exact = table[mcc];
  if (exact !== undefined) return exact;
  const n = Number(mcc);
  for (const key in table) {
    const dash = key.indexOf('-');
    if (dash < 0) continue;
    if (n >= Number(key.slice(0, dash)) && n <= Number(key.slice(dash + 1))) return table[key]!;
  }
  return base;
}

/** Absolute expiry (epoch ms) of a hold taken at nowMs for a transaction with this MCC. */
export function holdExpiresAtMs(program: HoldExpiryProgram, mcc: string | null | undefined, nowMs: number): number {
  return nowMs + holdExpiryDays(program, mcc) * DAY_MS;
}

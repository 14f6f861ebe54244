// Velocity counters of a card (docs/ledger.md, "Velocity counters"): the daily limits and the
// spend controls' velocity limits, checked and counted inside the hold's own script so that they
// are exact under concurrency. This module turns a call's counters into the keys and the packed
// argument block the hold scripts read (includes/counters.lua), and names the period of a window.
//
// A card's usage of one period is one hash, `{gNN}:use:<cardId>:<period>` in the card's balance
// group, with two fields per counter: `a:<controlId>` (minor units counted) and `n:<controlId>`
// (transactions counted). All counters of one hold share the hold's slot.
import { LedgerError } from './codes.js';
import type { Keyspace } from './keys.js';
import type { CounterWindow, VelocityCounter, VelocityCounters, WouldDecline } from './types.js';
import { checkId } from './validate.js';

const DAY_MS = 86_400_000;

/**
 * How long a usage hash lives after its last write, per window: past the end of its period, so
 * a reversal late in the period still finds it. LIFETIME hashes never expire: they live as long
 * as the card (a card is never deleted; its usage stays with its balance's slot group).
 */
export const COUNTER_TTL_MS: Readonly<Record<CounterWindow, number | null>> = {
  DAY: 2 * DAY_MS,
  WEEK: 8 * DAY_MS,
  MONTH: 32 * DAY_MS,
  LIFETIME: null,
};

/** At most this many counters in one call (a card's own and its program's controls, and the daily limits). */
export const COUNTERS_PER_CALL_MAX = 64;

const CONTROL_ID = /^[A-Za-z0-9._:-]{1,80}$/;
const PERIOD: Readonly<Record<CounterWindow, RegExp>> = {
  DAY: /^\d{8}$/, WEEK: /^\d{4}W\d{2}$/, MONTH: /^\d{6}$/, LIFETIME: /^L$/,
};

/**
 * The period of `window` that `nowMs` falls in, as a usage key names it (UTC): DAY `20261207`,
 * WEEK the ISO 8601 week `2026W49` (weeks start on Monday; the year is the week's, which differs
 * from the calendar year around 1 January), MONTH `202612`, LIFETIME `L`.
 */
export function counterPeriod(window: CounterWindow, nowMs: number): string {
  const d = new Date(nowMs);
  const y = d.getUTCFullYear();
  const m = d.getUTCMonth() + 1;
  switch (window) {
    case 'DAY': return String(y) + two(m) + two(d.getUTCDate());
    case 'MONTH': return String(y) + two(m);
    case 'LIFETIME': return 'L';
    case 'WEEK': {
      // The ISO week of a day is the week of its Thursday: move to that Thursday, count weeks from 1 January of its year.
      const day = Math.floor(nowMs / DAY_MS);
      const weekday = (new Date(day * DAY_MS).getUTCDay() + 6) % 7;
      const thursday = day - weekday + 3;
      const year = new Date(thursday * DAY_MS).getUTCFullYear();
      const jan1 = Math.floor(Date.UTC(year, 0, 1) / DAY_MS);
      return String(year) + 'W' + two(Math.floor((thursday - jan1) / 7) + 1);
    }
  }
}

function two(n: number): string {
  return n < 10 ? '0' + n : String(n);
}

/** What a hold script receives for a call's counters, and how to read its answer back. */
export interface PackedCounters {
  /** The usage hashes, one per distinct period, in the order of their blocks. */
  readonly keys: string[];
  /** The counter blocks as "|"-separated fields, led by "|" (appended to the packed arguments). */
  readonly packed: string;
  /** The counters in block order: position i is counter number i + 1 of the script's answer. */
  readonly flat: VelocityCounter[];
}

const NONE: PackedCounters = Object.freeze({ keys: [], packed: '', flat: [] });

/**
 * The counters of a call that apply to its message (scope ALL, or the message's own), grouped by
 * usage hash. Per hash: its TTL (ms, '' = none), the number of its counters, then per counter its
 * id, amount limit and count limit ('' = none) and 1 when enforced. Throws LedgerError
 * LEDGER_ERR_INVALID_ARGUMENT on a malformed counter (before Redis is touched).
 */
export function packCounters(keys: Keyspace, g: number, c: VelocityCounters | undefined): PackedCounters {
  if (c === undefined || c.counters.length === 0) return NONE;
  checkCounters(c);
  const byKey = new Map<string, { ttl: number | null; list: VelocityCounter[] }>();
  for (const k of c.counters) {
    if (k.scope !== 'ALL' && k.scope !== c.scope) continue;
    const key = keys.usage(g, c.cardId, k.period);
    let e = byKey.get(key);
    if (e === undefined) { e = { ttl: COUNTER_TTL_MS[k.window], list: [] }; byKey.set(key, e); }
    e.list.push(k);
  }
  if (byKey.size === 0) return NONE;
  let packed = '';
  const flat: VelocityCounter[] = [];
  for (const e of byKey.values()) {
    packed += '|' + (e.ttl === null ? '' : e.ttl) + '|' + e.list.length;
    for (const k of e.list) {
      packed += '|' + k.controlId + '|' + (k.amountMinor ?? '') + '|' + (k.count ?? '') + '|' + (k.enforced ? '1' : '0');
      flat.push(k);
    }
  }
  return { keys: [...byKey.keys()], packed, flat };
}

/**
 * Position 8 of a hold's answer: 0, or 2 × (the counter's number in block order) + 0 for its
 * amount limit, + 1 for its count limit — the first SHADOW counter that would have declined.
 */
export function wouldDeclineOf(n: number, flat: readonly VelocityCounter[]): WouldDecline | null {
  if (n === 0) return null;
  const k = flat[(n >> 1) - 1];
  if (k === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_CODE', `a hold named counter ${n >> 1} of ${flat.length}`);
  return { controlId: k.controlId, reason: (n & 1) === 1 ? 'LIMIT_EXCEED' : 'EXCEEDS_AMOUNT_LIMIT' };
}

/** Every counter well formed: ids unique, periods of their windows, limits null or non-negative integers. */
function checkCounters(c: VelocityCounters): void {
  checkId(c.cardId, 'counters.cardId');
  if (c.scope !== 'PURCHASE' && c.scope !== 'CASH') invalid('counters.scope must be PURCHASE or CASH');
  if (c.counters.length > COUNTERS_PER_CALL_MAX) invalid(`at most ${COUNTERS_PER_CALL_MAX} counters per call`);
  const ids = new Set<string>();
  for (const k of c.counters) {
    if (!CONTROL_ID.test(k.controlId)) invalid(`counter id ${JSON.stringify(k.controlId)}: 1-80 characters of A-Z a-z 0-9 . _ : -`);
    if (ids.has(k.controlId)) invalid(`counter id ${k.controlId} appears twice`);
    ids.add(k.controlId);
    const period = PERIOD[k.window];
    if (period === undefined) invalid(`counter ${k.controlId}: window must be DAY, WEEK, MONTH or LIFETIME`);
    if (!period.test(k.period)) invalid(`counter ${k.controlId}: period ${JSON.stringify(k.period)} is not a ${k.window} period (counterPeriod)`);
    if (k.scope !== 'PURCHASE' && k.scope !== 'CASH' && k.scope !== 'ALL') invalid(`counter ${k.controlId}: scope must be PURCHASE, CASH or ALL`);
    for (const v of [k.amountMinor, k.count]) {
      if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) invalid(`counter ${k.controlId}: a limit must be null or a non-negative integer`);
    }
  }
}

function invalid(message: string): never {
  throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', message);
}

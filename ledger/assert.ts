// Assertions on the scripts' results (TigerBeetle style): after each script returns, the
// invariants its answer must satisfy are checked before the answer is used. A violation is a
// programmer error (a script and its caller disagree, or the data was written by something other
// than the scripts), never an operating error: it throws LedgerAssertionError, which no caller
// handles as a decline, so it surfaces loudly (a failed test, a 96 / 500 and an error log).
// Every check is a few comparisons on numbers already in hand: nothing here reads Redis or
// allocates on the success path, so the hot path pays nanoseconds per call.
import { Code, REVERSE_EFFECTS, TX_STATUSES } from './codes.js';
import { MAX_AMOUNT_MINOR } from './types.js';

/** A script's answer broke an invariant it must satisfy. Code LEDGER_ERR_ASSERTION, always. */
export class LedgerAssertionError extends Error {
  readonly code = 'LEDGER_ERR_ASSERTION';
  constructor(
    /** The script whose answer broke the invariant (its name without `-<keys>.lua`). */
    readonly script: string,
    /** What was expected, in words. */
    readonly invariant: string,
    /** The result vector as the script returned it (integers and status codes only, no ids). */
    readonly result: readonly unknown[],
  ) {
    super(`ledger assertion failed in ${script}: ${invariant} (result ${JSON.stringify(result)})`);
    this.name = 'LedgerAssertionError';
  }
}

/** Result vector positions (1-based in the Lua headers). */
const CODE = 0;
const REPLAY = 1;
const STATUS = 2;
const VECTOR_LENGTH = 8;
const S_NONE = TX_STATUSES.indexOf('NONE');
const S_AUTHORIZED = TX_STATUSES.indexOf('AUTHORIZED');
const S_CLEARED = TX_STATUSES.indexOf('CLEARED');
const S_REVERSED = TX_STATUSES.indexOf('REVERSED');
const S_EXPIRED = TX_STATUSES.indexOf('EXPIRED');
const E_NONE = REVERSE_EFFECTS.indexOf('NONE');

/** KNOWN[code] is true for every code of ledger/codes.ts. */
const KNOWN: readonly boolean[] = (() => {
  const k: boolean[] = [];
  for (const n of Object.values(Code)) k[n] = true;
  return k;
})();

function fail(script: string, invariant: string, r: readonly unknown[]): never {
  throw new LedgerAssertionError(script, invariant, r);
}

/**
 * The shape of every mutating script's result: 8 safe integers, a known code, replay 0 or 1, a
 * known transaction status. Narrows `r` to number[].
 */
export function assertVector(script: string, r: unknown): asserts r is number[] {
  if (!Array.isArray(r) || r.length !== VECTOR_LENGTH) fail(script, `a vector of ${VECTOR_LENGTH} integers`, Array.isArray(r) ? r : [r]);
  for (let i = 0; i < VECTOR_LENGTH; i++) if (!Number.isSafeInteger(r[i])) fail(script, `position ${i + 1} is a safe integer`, r);
  if (KNOWN[r[CODE]] !== true) fail(script, 'a known result code', r);
  if (r[REPLAY] !== 0 && r[REPLAY] !== 1) fail(script, 'replay is 0 or 1', r);
  if (r[STATUS] < 0 || r[STATUS] >= TX_STATUSES.length) fail(script, 'a known transaction status', r);
}

/** An amount in minor units: 0..MAX_AMOUNT_MINOR. */
function amountOk(n: number): boolean {
  return n >= 0 && n <= MAX_AMOUNT_MINOR;
}

/** A user balance or tranche (available, blocked): blocked 0..max and available + blocked at most max. */
function balanceOk(available: number, blocked: number): boolean {
  return amountOk(blocked) && available + blocked <= MAX_AMOUNT_MINOR;
}

/** What a hold/debit call asked for, as far as its result's invariants depend on it. */
export interface DebitAsked {
  mode: 'H' | 'P';
  /** amount + fee + FX fee, minor units. */
  totalMinor: number;
  amountMinor: number;
  hasDeposit: boolean;
  /** forced or userUnchecked: the user's available may go below zero. */
  userMayGoNegative: boolean;
  forced: boolean;
  /** Velocity counters passed to the script (ledger/counters.ts PackedCounters.flat). */
  counters: number;
}

/**
 * hold-deposit-then-user-12 / hold-user-11 / hold-many-n / increment-hold-n, one hold's vector
 * {code, replay, status, userAvailable, userBlocked, depositAvailable, depositBlocked, wouldDecline}:
 * wouldDecline 0 or a counter passed (2 × its number, + 1 for its count limit);
 * balances in bounds; an approval has the status of its mode and, unless forced, left the user
 * (unless unchecked) and the deposit non-negative with the hold inside blocked; a decline holds
 * nothing (status NONE, or REVERSED for an orphan) and an insufficient-funds decline was short.
 */
export function assertHoldResult(script: string, r: unknown, a: DebitAsked): asserts r is number[] {
  assertVector(script, r);
  if (r[7] !== 0 && !(r[7]! >= 2 && r[7]! <= 2 * a.counters + 1)) fail(script, 'position 8 is 0 or names a counter passed', r);
  if (!balanceOk(r[3]!, r[4]!)) fail(script, 'user blocked within 0..max and available + blocked at most max', r);
  if (!amountOk(r[6]!)) fail(script, 'deposit blocked within 0..max', r);
  const code = r[CODE]!;
  if (code === Code.OK) {
    if (r[STATUS] !== (a.mode === 'H' ? S_AUTHORIZED : S_CLEARED)) fail(script, `an approved ${a.mode === 'H' ? 'hold is AUTHORIZED' : 'debit is CLEARED'}`, r);
    if (r[REPLAY] === 1) return;
    if (!a.userMayGoNegative && r[3]! < 0) fail(script, 'an approved hold leaves the user available non-negative', r);
    if (a.mode === 'H' && r[4]! < a.totalMinor) fail(script, 'an approved hold is inside the user blocked', r);
    if (a.hasDeposit && !a.forced && r[5]! < 0) fail(script, 'an approved hold leaves the deposit available non-negative', r);
    if (a.hasDeposit && a.mode === 'H' && r[6]! < a.amountMinor) fail(script, 'an approved hold is inside the deposit blocked', r);
    return;
  }
  if (r[STATUS] !== S_NONE && !(code === Code.ALREADY_REVERSED && r[STATUS] === S_REVERSED)) fail(script, 'a decline leaves no transaction', r);
  if (r[REPLAY] === 1) return;
  if (code === Code.INSUFFICIENT_FUNDS && r[3]! >= a.totalMinor) fail(script, 'INSUFFICIENT_FUNDS only when available < amount + fees', r);
  if (code === Code.INSUFFICIENT_DEPOSIT && r[5]! >= a.amountMinor) fail(script, 'INSUFFICIENT_DEPOSIT only when the deposit available < amount', r);
}

/**
 * clear-hold-8 {code, replay, status, clearedFromHold, forcedExcess, released, feesPosted,
 * userAvailable}: amounts in bounds; a fresh clearing splits exactly the amount asked for between
 * the hold and the forced excess and ends CLEARED (or still AUTHORIZED when not final); a refusal
 * moves nothing. STALE_KEYS is the caller's to retry and is not checked here.
 */
export function assertClearResult(script: string, r: unknown, amountMinor: number): asserts r is number[] {
  assertVector(script, r);
  for (let i = 3; i <= 6; i++) if (!amountOk(r[i]!)) fail(script, `position ${i + 1} within 0..max`, r);
  if (r[7]! > MAX_AMOUNT_MINOR) fail(script, 'user available at most max', r);
  if (r[CODE] === Code.OK) {
    if (r[STATUS] !== S_CLEARED && r[STATUS] !== S_AUTHORIZED) fail(script, 'a clearing leaves CLEARED or AUTHORIZED', r);
    if (r[REPLAY] === 0 && r[3]! + r[4]! !== amountMinor) fail(script, 'cleared from hold + forced excess = the amount cleared', r);
  } else if (r[3] !== 0 || r[4] !== 0 || r[5] !== 0 || r[6] !== 0) {
    fail(script, 'a refused clearing moves nothing', r);
  }
}

/**
 * release-hold-6 {code, replay, status, userReleased, depositReleased, userAvailable, userBlocked,
 * amount}: amounts and the user balance in bounds; a fresh full release closes the transaction
 * (REVERSED, EXPIRED, or CLEARED when partly cleared), a fresh partial one leaves the new final
 * amount; a refusal releases nothing.
 */
export function assertReleaseResult(script: string, r: unknown, newAmountMinor: number | undefined): asserts r is number[] {
  assertVector(script, r);
  if (!amountOk(r[3]!) || !amountOk(r[4]!) || !amountOk(r[7]!)) fail(script, 'released amounts and the amount within 0..max', r);
  if (r[CODE] === Code.OK) {
    if (!balanceOk(r[5]!, r[6]!)) fail(script, 'user blocked within 0..max and available + blocked at most max', r);
    if (r[REPLAY] === 1) return;
    const s = r[STATUS];
    if (newAmountMinor === undefined || newAmountMinor === 0) {
      if (s !== S_REVERSED && s !== S_EXPIRED && s !== S_CLEARED) fail(script, 'a full release closes the transaction', r);
    } else if (r[7] !== newAmountMinor) {
      fail(script, 'a partial release leaves the new final amount', r);
    }
  } else if (r[3] !== 0 || r[4] !== 0) {
    fail(script, 'a refused release releases nothing', r);
  }
}

/**
 * reverse-transaction-10 {code, replay, status, effect, userMoved, userAvailable, userBlocked,
 * amount}: a known effect; amounts in bounds; success names what it did, a refusal moves nothing.
 */
export function assertReverseResult(script: string, r: unknown): asserts r is number[] {
  assertVector(script, r);
  if (r[3]! < 0 || r[3]! >= REVERSE_EFFECTS.length) fail(script, 'a known reversal effect', r);
  if (!amountOk(r[4]!) || !amountOk(r[7]!)) fail(script, 'moved amount and amount within 0..max', r);
  if (!amountOk(r[6]!)) fail(script, 'user blocked within 0..max', r);
  if (r[CODE] === Code.OK) {
    if (r[3] === E_NONE) fail(script, 'a reversal that succeeded names its effect', r);
  } else if (r[3] !== E_NONE || r[4] !== 0) {
    fail(script, 'a refused reversal moves nothing', r);
  }
}

/**
 * replace-hold-n {code, replay, status, released, forced, userAvailable, userBlocked, amount}:
 * amounts in bounds; a fresh replacement leaves the transaction AUTHORIZED and either releases or
 * holds more, not both; a refusal moves nothing. STALE_KEYS is the caller's to retry.
 */
export function assertReplaceResult(script: string, r: unknown): asserts r is number[] {
  assertVector(script, r);
  if (!amountOk(r[3]!) || !amountOk(r[4]!) || !amountOk(r[7]!)) fail(script, 'released, forced and the amount within 0..max', r);
  if (r[CODE] === Code.OK) {
    if (!amountOk(r[6]!)) fail(script, 'user blocked within 0..max', r);
    if (r[REPLAY] === 0 && r[STATUS] !== S_AUTHORIZED) fail(script, 'a replaced hold stays AUTHORIZED', r);
    if (r[3]! > 0 && r[4]! > 0) fail(script, 'a replacement releases or holds more, not both', r);
  } else if (r[3] !== 0 || r[4] !== 0) {
    fail(script, 'a refused replacement moves nothing', r);
  }
}

/**
 * post-user-7 {code, replay, status, userAvailable, userBlocked, partnerTrancheAvailable, 0, 0}:
 * user blocked in bounds; a posting is CLEARED at once; a refusal leaves no transaction.
 */
export function assertPostResult(script: string, r: unknown): asserts r is number[] {
  assertVector(script, r);
  if (r[6] !== 0 || r[7] !== 0) fail(script, 'positions 7 and 8 are 0', r);
  if (!amountOk(r[4]!)) fail(script, 'user blocked within 0..max', r);
  if (r[CODE] === Code.OK ? r[STATUS] !== S_CLEARED : r[STATUS] !== S_NONE) fail(script, 'a posting is CLEARED at once, a refusal leaves none', r);
}

/** Any other invariant of a script's answer: throws LedgerAssertionError naming `invariant` unless `holds`. */
export function assertResult(holds: boolean, script: string, invariant: string, r: readonly unknown[]): void {
  if (!holds) fail(script, invariant, r);
}

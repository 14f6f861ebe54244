// Card debits: authorization holds (0100/0120) and single-message debits (0200, forced posts),
// deposit first then user, in one script per message. Holds asked for in one event-loop turn are
// coalesced into one hold-many call per slot group. This is the switch's hot path: per message it
// validates the arguments, builds twelve keys and one packed argument (and, for a card with
// velocity counters, its usage hashes and their blocks: ledger/counters.ts), and checks the answer
// with a few comparisons (ledger/assert.ts). Incremental authorizations (incrementHold) are
// checked like holds and added to their original's hold.
import { assertHoldResult, assertVector, type DebitAsked } from './assert.js';
import { Code, LedgerError, PreconditionFailedError, reasonOf, statusOf } from './codes.js';
import type { LedgerCore } from './core.js';
import { packCounters, wouldDeclineOf, type PackedCounters } from './counters.js';
import type { Tranches } from './tranches.js';
import type { ApprovalRecord, HoldArgs, HoldGuard, HoldResult, IncrementArgs } from './types.js';
import { checkAmount, checkFee, checkId, checkPartnerId } from './validate.js';

/** At most this many holds in one hold-many call (a worker batch holds at most 64 messages). */
const DEBITS_PER_CALL_MAX = 64;
/** Attempts when an original's partner ids change between their read and the increment's script. */
const STALE_ATTEMPTS_MAX = 3;

interface PendingDebit {
  keys: string[];
  /** The card's usage hashes (HoldArgs.counters), passed after the twelve keys. */
  useKeys: string[];
  packed: string;
  hasDeposit: boolean;
  meta: string[];
  record: ApprovalRecord | undefined;
  resolve(r: number[]): void;
  reject(e: unknown): void;
}

export class Holds {
  constructor(
    private readonly core: LedgerCore,
    private readonly tranches: Tranches,
    /** Holds and debits of one tick go out as one hold-many call per slot group. */
    private readonly coalesce: boolean,
  ) {}

  /**
   * A hold (mode 'H') or a debit posted at once (mode 'P'). Throws LedgerError on bad input
   * before Redis is touched, LedgerAssertionError when the script's answer breaks an invariant.
   */
  async debit(mode: 'H' | 'P', a: HoldArgs): Promise<HoldResult> {
    checkAmount(a.amountMinor);
    const fee = a.feeMinor ?? 0;
    const fx = a.fxFeeMinor ?? 0;
    checkFee(fee);
    checkFee(fx);
    checkId(a.txId, 'txId');
    if (a.idempotencyKey !== null) checkId(a.idempotencyKey, 'idempotencyKey');
    checkId(a.balanceId, 'balanceId');
    if (a.depositId !== null) checkPartnerId(a.depositId, 'DEPOSIT', 'depositId');
    if (a.companyId !== undefined && a.companyId !== null) checkPartnerId(a.companyId, 'COMPANY', 'companyId');
    if (!Number.isSafeInteger(a.expiresAtMs)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'expiresAtMs must be an integer');
    if (a.orphanTxId !== undefined) checkId(a.orphanTxId, 'orphanTxId');
    if (a.guard !== undefined) checkGuard(a.guard);
    if (a.record !== undefined) checkRecord(a.record);
    const g = this.core.groupOf(a.balanceId);
    const counters = packCounters(this.core.keys, g, a.counters);
    const forced = a.forced === true;
    const retryable = a.depositId !== null && !forced && this.core.keys.groups > 1;
    const asked: DebitAsked = {
      mode, totalMinor: a.amountMinor + fee + fx, amountMinor: a.amountMinor, hasDeposit: a.depositId !== null,
      userMayGoNegative: forced || a.userUnchecked === true, forced, counters: counters.flat.length,
    };
    let r = await this.run(mode, a, g, fee, fx, forced, retryable, counters);
    let recorded = takeRecorded(r);
    // A failed guard did nothing (HoldArgs.guard): the caller decides again.
    if (r[0] === Code.GUARD_PRESENT) throw new PreconditionFailedError('PRESENT');
    if (r[0] === Code.GUARD_CHANGED) throw new PreconditionFailedError('CHANGED');
    if (r[0] === Code.GUARD_REPLAYED) throw new PreconditionFailedError('REPLAYED');
    assertHoldResult(scriptOf(a), r, asked);
    let rebalanced = false;
    if (retryable && r[0] === Code.INSUFFICIENT_DEPOSIT) {
      // The program's deposit is split per slot group: pull what this tranche lacks from the
      // others, then decide again (recorded this time, whatever the outcome).
      rebalanced = await this.tranches.refillTranche(a.depositId!, g, a.amountMinor - r[5]!, a.amountMinor);
      r = await this.run(mode, a, g, fee, fx, forced, false, counters);
      recorded = takeRecorded(r);
      assertHoldResult(scriptOf(a), r, asked);
    }
    return holdResult(r, rebalanced, recorded, counters);
  }

  /**
   * An incremental authorization (see Ledger.incrementHold). Throws LedgerError on bad input
   * before Redis is touched, LEDGER_ERR_INVALID_ARGUMENT when the original was held against
   * another deposit than `depositId`, LEDGER_ERR_CONTENTION when the original kept changing.
   */
  async increment(a: IncrementArgs): Promise<HoldResult> {
    checkAmount(a.amountMinor);
    const fee = a.feeMinor ?? 0;
    const fx = a.fxFeeMinor ?? 0;
    checkFee(fee);
    checkFee(fx);
    checkId(a.originalTxId, 'originalTxId');
    checkId(a.incrementTxId, 'incrementTxId');
    if (a.idempotencyKey !== null) checkId(a.idempotencyKey, 'idempotencyKey');
    checkId(a.balanceId, 'balanceId');
    if (a.depositId !== null) checkPartnerId(a.depositId, 'DEPOSIT', 'depositId');
    if (a.companyId !== undefined && a.companyId !== null) checkPartnerId(a.companyId, 'COMPANY', 'companyId');
    if (!Number.isSafeInteger(a.expiresAtMs)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'expiresAtMs must be an integer');
    if (a.originalTxId === a.incrementTxId) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'an increment needs an id of its own');
    const g = this.core.groupOf(a.balanceId);
    const counters = packCounters(this.core.keys, g, a.counters);
    const asked: DebitAsked = {
      mode: 'H', totalMinor: a.amountMinor + fee + fx, amountMinor: a.amountMinor, hasDeposit: a.depositId !== null,
      userMayGoNegative: a.userUnchecked === true, forced: false, counters: counters.flat.length,
    };
    let rebalanced = false;
    let retryable = a.depositId !== null && this.core.keys.groups > 1;
    for (let attempt = 1; ; attempt++) {
      const r = await this.runIncrement(a, g, fee, fx, retryable, counters);
      assertVector('increment-hold', r);
      if (r[0] === Code.STALE_KEYS) {
        if (attempt >= STALE_ATTEMPTS_MAX) throw new LedgerError('LEDGER_ERR_CONTENTION', `transaction ${a.originalTxId} kept changing during an increment`);
        continue;
      }
      assertHoldResult('increment-hold', r, asked);
      if (retryable && r[0] === Code.INSUFFICIENT_DEPOSIT) {
        // As for a hold: pull what this tranche lacks from the others, then decide once more.
        rebalanced = await this.tranches.refillTranche(a.depositId!, g, a.amountMinor - r[5]!, a.amountMinor);
        retryable = false;
        continue;
      }
      return holdResult(r, rebalanced, false, counters);
    }
  }

  /** increment-hold-n with the tranches the original names (read first: the script checks them). */
  private async runIncrement(a: IncrementArgs, g: number, fee: number, fx: number, retryable: boolean, counters: PackedCounters): Promise<unknown> {
    const { keys, redis } = this.core;
    const incKey = keys.transaction(g, a.balanceId, a.incrementTxId);
    const origKey = keys.transaction(g, a.balanceId, a.originalTxId);
    const [s, dp, kp, ty] = await redis.hmget(origKey, 's', 'dp', 'kp', 'ty');
    // Only a card authorization's tranches matter: anything else is declined by the script.
    const authorization = s !== null && ty === null;
    const depositId = authorization ? dp || '' : a.depositId ?? '';
    if (authorization && depositId !== (a.depositId ?? '')) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `transaction ${a.originalTxId} was held against ${depositId || 'no deposit'}, not ${a.depositId ?? 'no deposit'}`);
    }
    const companyId = (authorization ? kp : null) || a.companyId || '';
    const packed = `${a.amountMinor}|${fee}|${fx}|${a.expiresAtMs}|${a.nowMs ?? this.core.now()}|${this.core.idemTtl}|${a.balanceId}|` +
      `${a.incrementTxId}|${a.originalTxId}|${depositId}|${companyId}|${retryable ? '1' : '0'}|${a.userUnchecked === true ? '1' : '0'}${counters.packed}`;
    const meta: string[] = [];
    if (a.meta !== undefined) for (const k in a.meta) meta.push(k, a.meta[k]!);
    return this.core.fn('increment-hold')(9 + counters.keys.length,
      a.idempotencyKey === null ? incKey : keys.idempotency(g, a.idempotencyKey), incKey, keys.userBalance(g, a.balanceId),
      depositId === '' ? incKey : keys.tranche(g, depositId), companyId === '' ? incKey : keys.tranche(g, companyId),
      keys.journals[g]!, keys.expiries[g]!, this.core.historyKey(g, a.balanceId, incKey), origKey, ...counters.keys, packed, ...meta);
  }

  private run(mode: 'H' | 'P', a: HoldArgs, g: number, fee: number, fx: number, forced: boolean, retryable: boolean, counters: PackedCounters): Promise<number[]> {
    const { keys } = this.core;
    const txKey = keys.transaction(g, a.balanceId, a.txId);
    const companyId = a.companyId ?? '';
    const now = a.nowMs ?? this.core.now();
    const gd = a.guard;
    // Fields 14-15 the guard, 16 its sequence, 17.. the counter blocks; all absent in the common approval.
    const sq = gd?.sequence;
    const sequence = sq === undefined ? '' : `${sq.field}\x1f${sq.ownerField}\x1f${sq.value}\x1f${sq.owner}`;
    const guard = gd === undefined ? (counters.packed === '' ? '' : '|||')
      : `|${joinedOnce(gd.fields, ',')}|${joinedOnce(gd.expected, '\x1f')}${counters.packed === '' && sq === undefined ? '' : '|' + sequence}`;
    const packed = `${mode}|${forced ? '1' : a.userUnchecked === true ? '2' : '0'}|${a.amountMinor}|${fee}|${fx}|${a.expiresAtMs}|${now}|${this.core.idemTtl}|` +
      `${a.balanceId}|${a.txId}|${a.depositId ?? ''}|${companyId}|${retryable ? '1' : '0'}${guard}${counters.packed}`;
    const meta: string[] = [];
    if (a.meta !== undefined) for (const k in a.meta) meta.push(k, a.meta[k]!);
    // hold-deposit-then-user-12's KEYS; absent ones are the transaction key (as the script expects).
    const debitKeys = [
      a.idempotencyKey === null ? txKey : keys.idempotency(g, a.idempotencyKey), txKey, keys.userBalance(g, a.balanceId),
      a.depositId === null ? txKey : keys.tranche(g, a.depositId), companyId === '' ? txKey : keys.tranche(g, companyId),
      keys.journals[g]!, keys.expiries[g]!, this.core.historyKey(g, a.balanceId, txKey), keys.worlds[g]!,
      a.orphanTxId === undefined ? txKey : keys.transaction(g, a.balanceId, a.orphanTxId),
      gd === undefined ? txKey : gd.hashKey, gd === undefined || gd.absentKey === null ? txKey : gd.absentKey,
    ];
    return new Promise((resolve, reject) => {
      let q = this.pending.get(g);
      if (q === undefined) { q = []; this.pending.set(g, q); }
      q.push({ keys: debitKeys, useKeys: counters.keys, packed, hasDeposit: a.depositId !== null, meta, record: a.record, resolve, reject });
      if (!this.coalesce) this.flush();
      else if (!this.flushScheduled) {
        this.flushScheduled = true;
        process.nextTick(this.flush);
      }
    });
  }

  /**
   * Holds and debits asked for in one tick (the authorizations of a batch) go to Redis as one
   * `hold-many` call per slot group: the client builds and parses one command instead of one per
   * message, and Redis starts one script. Each hold is still checked and written on its own.
   */
  private readonly pending = new Map<number, PendingDebit[]>();
  private flushScheduled = false;
  private readonly flush = (): void => {
    this.flushScheduled = false;
    for (const [g, q] of this.pending) {
      this.pending.delete(g);
      for (let i = 0; i < q.length; i += DEBITS_PER_CALL_MAX) this.send(q.slice(i, i + DEBITS_PER_CALL_MAX));
    }
  };

  private send(q: PendingDebit[]): void {
    if (q.length === 1 && q[0]!.record === undefined && q[0]!.useKeys.length === 0) {
      const d = q[0]!;
      // hold-user-11 takes the same keys without the deposit tranche (position 4).
      const keys = d.hasDeposit ? d.keys : [d.keys[0]!, d.keys[1]!, d.keys[2]!, ...d.keys.slice(4)];
      (this.core.fn(d.hasDeposit ? 'hold-deposit-then-user' : 'hold-user')(...keys, d.packed, ...d.meta) as Promise<number[]>).then(d.resolve, d.reject);
      return;
    }
    const keys: string[] = [];
    const args: (string | number | Buffer)[] = [];
    for (const d of q) {
      keys.push(...d.keys, ...d.useKeys);
      args.push(d.packed, d.hasDeposit ? '1' : '0', String(d.useKeys.length), String(d.meta.length), ...d.meta);
      const rec = d.record;
      if (rec === undefined) { args.push('0'); continue; }
      keys.push(...rec.keys);
      args.push(rec.appendBalances ? 'N' : '=', ...rec.args);
    }
    (this.core.fn('hold-many')(keys.length, ...keys, ...(args as string[])) as Promise<number[][]>).then(
      (rs) => q.forEach((d, i) => {
        const r = rs[i];
        if (r === undefined) d.reject(new LedgerError('LEDGER_ERR_UNKNOWN_CODE', 'hold-many returned fewer results than holds'));
        else d.resolve(r);
      }),
      (err: unknown) => { for (const d of q) d.reject(err); },
    );
  }
}

/**
 * A hold that carried its record (HoldArgs.record) answers a ninth value, 1 when the record was
 * written: taken off here, so the vector is the usual eight for the checks.
 */
function takeRecorded(r: number[]): boolean {
  return r.length === 9 && r.pop() === 1;
}

/** The script a hold's answer came from, as named in an assertion (coalesced holds share hold-many). */
function scriptOf(a: HoldArgs): string {
  return a.depositId === null ? 'hold-user' : 'hold-deposit-then-user';
}

/** A hold script's checked answer as a HoldResult. */
function holdResult(r: number[], rebalanced: boolean, recorded: boolean, counters: PackedCounters): HoldResult {
  const code = r[0]!;
  return {
    approved: code === Code.OK,
    reason: reasonOf(code),
    replay: r[1] === 1,
    status: statusOf(r[2]!),
    availableMinor: r[3]!,
    blockedMinor: r[4]!,
    depositAvailableMinor: r[5]!,
    depositBlockedMinor: r[6]!,
    rebalanced,
    recorded,
    wouldDecline: wouldDeclineOf(r[7]!, counters.flat),
  };
}

/**
 * A guard's arrays are the caller's, the same for every hold decided with one remembered card
 * (CardStore.seen): each is checked and joined once, not per message.
 */
const guardJoined = new WeakMap<readonly string[], string>();

function joinedOnce(a: readonly string[], sep: string): string {
  let s = guardJoined.get(a);
  if (s === undefined) { s = a.join(sep); guardJoined.set(a, s); }
  return s;
}

/** HoldArgs.record: eight keys, seven values. */
function checkRecord(r: ApprovalRecord): void {
  if (r.keys.length !== 8 || r.args.length !== 7) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'record: eight keys and seven values');
}

/** HoldArgs.guard: names and values must survive the packed argument's separators (checked once per array pair). */
const guardChecked = new WeakSet<readonly string[]>();

function checkGuard(g: HoldGuard): void {
  if (g.fields.length === 0 || g.fields.length !== g.expected.length) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: one expected value per field, at least one field');
  const sq = g.sequence;
  if (sq !== undefined) {
    if (!Number.isSafeInteger(sq.value) || sq.value < 0) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: the sequence value must be a non-negative integer');
    for (const v of [sq.field, sq.ownerField, sq.owner]) if (v === '' || /[|\x1f]/.test(v)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: a sequence field or owner is empty or holds | or \\x1f');
  }
  if (guardChecked.has(g.expected) && guardChecked.has(g.fields)) return;
  for (const f of g.fields) if (f === '' || /[,|]/.test(f)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: a field name is empty or holds , or |');
  for (const v of g.expected) if (/[|\x1f]/.test(v)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: an expected value holds | or \\x1f');
  guardChecked.add(g.fields);
  guardChecked.add(g.expected);
}

// What happens to a transaction after its authorization: clearing (0220 with an original),
// reversal (0400/0420, any state), release of an open hold, and expiry of holds past their due
// time. Each is one script in the balance's slot; the partner tranches a transaction names are
// read from its record first so that every key is passed in KEYS, and the script refuses
// (STALE_KEYS) when the record names others by then: the call reads again and retries.
import { assertClearResult, assertReleaseResult, assertReverseResult, assertVector } from './assert.js';
import { Code, LedgerError, REVERSE_EFFECTS, reasonOf, statusOf } from './codes.js';
import type { LedgerCore } from './core.js';
import type { ClearArgs, ClearResult, ReleaseArgs, ReleaseResult, ReverseArgs, ReverseResult } from './types.js';
import { checkAmount, checkFinalAmount, checkId } from './validate.js';

const DAY_MS = 86_400_000;
/** Attempts when a transaction appears or changes between the read of its partner ids and the script. */
const STALE_ATTEMPTS_MAX = 3;

export class Settlement {
  constructor(private readonly core: LedgerCore) {}

  /** An open hold released in full or down to `newAmountMinor` (see Ledger.release). */
  async release(a: ReleaseArgs): Promise<ReleaseResult> {
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const partial = a.newAmountMinor !== undefined;
    if (partial && (!Number.isSafeInteger(a.newAmountMinor) || a.newAmountMinor! < 0)) {
      throw new LedgerError('LEDGER_ERR_INVALID_AMOUNT', 'newAmountMinor must be a non-negative safe integer');
    }
    const g = this.core.groupOf(a.balanceId);
    const r = await this.runRelease(partial ? 'N' : 'R', g, a.balanceId, a.txId, a.newAmountMinor ?? 0, a.idempotencyKey, a.nowMs ?? this.core.now(),
      a.rememberOrphan === true);
    assertReleaseResult('release-hold', r, a.newAmountMinor);
    return releaseResult(r);
  }

  /** Any transaction reversed in one script call, in full or down to `newAmountMinor` (see Ledger.reverse). */
  async reverse(a: ReverseArgs): Promise<ReverseResult> {
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    if (a.newAmountMinor !== undefined) checkFinalAmount(a.newAmountMinor);
    if (a.cardId !== undefined) checkId(a.cardId, 'cardId');
    const g = this.core.groupOf(a.balanceId);
    const { keys, redis } = this.core;
    const txKey = keys.transaction(g, a.balanceId, a.txId);
    const now = a.nowMs ?? this.core.now();
    const use0 = a.cardId === undefined ? txKey : keys.usage(g, a.cardId, utcDay(now));
    const use1 = a.cardId === undefined ? txKey : keys.usage(g, a.cardId, utcDay(now - DAY_MS));
    for (let attempt = 1; ; attempt++) {
      const ids = await redis.hmget(txKey, 'dp', 'pp', 'kp');
      const depositId = ids[0] || ids[1] || '';
      const companyId = ids[2] || '';
      const r = await this.core.fn('reverse-transaction')(keys.idempotency(g, a.idempotencyKey), txKey, keys.userBalance(g, a.balanceId),
        keys.journals[g]!, keys.expiries[g]!, keys.worlds[g]!,
        depositId === '' ? txKey : keys.tranche(g, depositId), companyId === '' ? txKey : keys.tranche(g, companyId), use0, use1,
        a.newAmountMinor ?? '', now, this.core.idemTtl, a.balanceId, a.txId, a.rememberOrphan === true ? '1' : '0', depositId, companyId);
      assertVector('reverse-transaction', r);
      if (r[0] !== Code.STALE_KEYS) {
        assertReverseResult('reverse-transaction', r);
        return reverseResult(r);
      }
      if (attempt >= STALE_ATTEMPTS_MAX) throw contention(a.txId, 'reversal');
    }
  }

  /** Clearing of an authorization: equal, less or more than held (see Ledger.clear). */
  async clear(a: ClearArgs): Promise<ClearResult> {
    checkAmount(a.amountMinor);
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const g = this.core.groupOf(a.balanceId);
    const { keys, redis } = this.core;
    const txKey = keys.transaction(g, a.balanceId, a.txId);
    const now = a.nowMs ?? this.core.now();
    for (let attempt = 1; ; attempt++) {
      const ids = await redis.hmget(txKey, 'dp', 'kp');
      const depositId = ids[0] || '';
      const companyId = ids[1] || '';
      const r = await this.core.fn('clear-hold')(keys.idempotency(g, a.idempotencyKey), txKey, keys.userBalance(g, a.balanceId),
        keys.journals[g]!, keys.expiries[g]!, keys.worlds[g]!,
        depositId === '' ? txKey : keys.tranche(g, depositId), companyId === '' ? txKey : keys.tranche(g, companyId),
        a.amountMinor, a.final === false ? '0' : '1', now, this.core.idemTtl, a.balanceId, a.txId, depositId, companyId);
      assertVector('clear-hold', r);
      if (r[0] !== Code.STALE_KEYS) {
        assertClearResult('clear-hold', r, a.amountMinor);
        return clearResult(r);
      }
      if (attempt >= STALE_ATTEMPTS_MAX) throw contention(a.txId, 'clearing');
    }
  }

  /**
   * Releases holds whose expiry is at or before nowMs, at most `limitPerGroup` per group (see
   * Ledger.sweepExpired). Returns how many this call released and how many it looked at.
   */
  async sweepExpired(nowMs: number = this.core.now(), limitPerGroup = 500): Promise<{ expired: number; examined: number }> {
    let expired = 0;
    let examined = 0;
    await Promise.all(this.core.keys.expiries.map(async (expKey, g) => {
      const due = await this.core.redis.zrangebyscore(expKey, '-inf', nowMs, 'LIMIT', 0, limitPerGroup);
      examined += due.length;
      const results = await Promise.all(due.map((member) => {
        const bar = member.indexOf('|');
        return this.runRelease('E', g, member.slice(0, bar), member.slice(bar + 1), 0, null, nowMs);
      }));
      for (const r of results) {
        assertReleaseResult('release-hold', r, undefined);
        if (r[0] === Code.OK) expired++;
      }
    }));
    return { expired, examined };
  }

  /** release-hold-6 with the deposit tranche the transaction names (read first; retried when stale). */
  private async runRelease(mode: 'R' | 'N' | 'E', g: number, balanceId: string, txId: string, newAmount: number, idem: string | null, now: number,
    rememberOrphan = false): Promise<number[]> {
    const { keys, redis } = this.core;
    const txKey = keys.transaction(g, balanceId, txId);
    for (let attempt = 1; ; attempt++) {
      const depositId = (await redis.hget(txKey, 'dp')) || '';
      const r = await this.core.fn('release-hold')(idem === null ? txKey : keys.idempotency(g, idem), txKey, keys.userBalance(g, balanceId),
        keys.journals[g]!, keys.expiries[g]!, depositId === '' ? txKey : keys.tranche(g, depositId),
        mode, newAmount, now, this.core.idemTtl, balanceId, txId, idem === null ? '0' : '1', rememberOrphan ? '1' : '0', depositId);
      assertVector('release-hold', r);
      if (r[0] !== Code.STALE_KEYS) return r;
      if (attempt >= STALE_ATTEMPTS_MAX) throw contention(txId, 'release');
    }
  }
}

function contention(txId: string, what: string): LedgerError {
  return new LedgerError('LEDGER_ERR_CONTENTION', `transaction ${txId} kept changing during its ${what}`);
}

function clearResult(r: number[]): ClearResult {
  const code = r[0]!;
  return {
    ok: code === Code.OK,
    reason: reasonOf(code),
    replay: r[1] === 1,
    status: statusOf(r[2]!),
    clearedFromHoldMinor: r[3]!,
    forcedMinor: r[4]!,
    releasedMinor: r[5]!,
    feesPostedMinor: r[6]!,
    availableMinor: r[7]!,
  };
}

function releaseResult(r: number[]): ReleaseResult {
  const code = r[0]!;
  return {
    ok: code === Code.OK || code === Code.ALREADY_REVERSED,
    reason: reasonOf(code),
    replay: r[1] === 1,
    status: statusOf(r[2]!),
    releasedMinor: r[3]!,
    depositReleasedMinor: r[4]!,
    availableMinor: r[5]!,
    blockedMinor: r[6]!,
    amountMinor: r[7]!,
  };
}

function reverseResult(r: number[]): ReverseResult {
  const code = r[0]!;
  return {
    ok: code === Code.OK || code === Code.ALREADY_REVERSED,
    reason: reasonOf(code),
    replay: r[1] === 1,
    status: statusOf(r[2]!),
    effect: REVERSE_EFFECTS[r[3]!]!,
    movedMinor: r[4]!,
    availableMinor: r[5]!,
    blockedMinor: r[6]!,
    amountMinor: r[7]!,
  };
}

/** UTC day of an epoch ms, YYYYMMDD (the day of a card's usage hash, as the switch names it). */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  return String(d.getUTCFullYear()) + String(d.getUTCMonth() + 1).padStart(2, '0') + String(d.getUTCDate()).padStart(2, '0');
}

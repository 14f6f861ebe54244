// The ledger's typed API over its Lua scripts. Every mutating call is ONE script call in ONE hash
// slot (plus, rarely, a tranche rebalancing on the slow path), keyed by an idempotency key: a
// replay returns the first result, flagged `replay`, and moves nothing.
// Works on an ioredis Redis or Cluster; enable `enableAutoPipelining` on the client to batch the
// calls of one event-loop turn.
import { randomBytes } from 'node:crypto';
import type { Cluster, Redis } from 'ioredis';
import { Code, LedgerError, PreconditionFailedError, reasonOf, statusOf, type LedgerReason } from './codes.js';
import { Keyspace, type PartnerType } from './keys.js';
import { loadScripts, registerScripts, type ScriptFn } from './scripts.js';
import {
  type DailyLimits,
  INTERNAL_TYPES, type ClearArgs, type ClearResult, type CreditArgs, type HoldArgs, type HoldGuard, type HoldResult, type JournalEntry,
  type LedgerOptions, type MinorSum, type PartnerBalance, type PostArgs, type PostResult, type ReleaseArgs, type ReleaseResult,
  type ReloadResult, type ReverseArgs, type ReverseResult, type SummaryRow, type Transaction, type UserBalance, MAX_AMOUNT_MINOR,
} from './types.js';
import { checkAmount, checkCurrency, checkFee, checkFinalAmount, checkId, checkPartnerId } from './validate.js';

export type { LedgerReason, TxStatus } from './codes.js';
export type { PartnerType } from './keys.js';
export * from './types.js';

/** A tranche refill pulls at least this multiple of its shortfall. */
const REFILL_FACTOR = 4;
const DEFAULT_IDEM_TTL_MS = 8 * 86_400_000;
/** At most this many holds in one hold-many call (a worker batch holds at most 64 messages). */
const DEBITS_PER_CALL_MAX = 64;

interface PendingDebit {
  keys: string[];
  packed: string;
  hasDeposit: boolean;
  meta: string[];
  resolve(r: number[]): void;
  reject(e: unknown): void;
}

/** A card's usage hash for a day outlives the day by one more (time zones and late advices). */
const USAGE_TTL_MS = 2 * 86_400_000;
const DAY_MS = 86_400_000;
/** reverse(): attempts when the transaction appears between the read of its partner ids and the script. */
const REVERSE_ATTEMPTS_MAX = 3;
const EFFECTS: readonly ReverseResult['effect'][] = ['NONE', 'RELEASED', 'CREDITED_BACK', 'DEBITED_BACK'];

export class Ledger {
  readonly keys: Keyspace;
  private readonly idemTtl: string;
  private readonly now: () => number;

  private constructor(
    readonly redis: Redis | Cluster,
    private readonly fns: Map<string, ScriptFn>,
    groups: number,
    opts: LedgerOptions,
  ) {
    this.keys = new Keyspace(groups);
    this.idemTtl = String(opts.idempotencyTtlMs ?? DEFAULT_IDEM_TTL_MS);
    this.now = opts.now ?? Date.now;
    this.coalesce = opts.coalesceDebits !== false;
  }

  /** Loads the scripts on the client and reads (or fixes) the group count. */
  static async open(redis: Redis | Cluster, opts: LedgerOptions = {}): Promise<Ledger> {
    const fns = registerScripts(redis, loadScripts());
    const isCluster = (redis as { isCluster?: boolean }).isCluster === true;
    const wanted = opts.groups ?? (isCluster ? 16 : 1);
    new Keyspace(wanted); // validates
    await redis.hsetnx(Keyspace.metaKey(), 'groups', String(wanted));
    const stored = Number(await redis.hget(Keyspace.metaKey(), 'groups'));
    if (opts.groups !== undefined && stored !== opts.groups) {
      throw new LedgerError('LEDGER_ERR_GROUPS_MISMATCH', `ledger data uses ${stored} slot groups, open() asked for ${opts.groups}`);
    }
    return new Ledger(redis, fns, stored, opts);
  }

  get groups(): number { return this.keys.groups; }

  // ---------------------------------------------------------------- balances

  /**
   * Opens a user balance for a customer. `balanceId`: an id chosen beforehand (balanceIdFor), as an
   * EXTERNAL_BALANCE program links it at the partner before it exists here; it must lie in the
   * customer's slot group (LEDGER_ERR_INVALID_BALANCE_ID otherwise).
   */
  async createUserBalance(a: { customerId: string; currency: string; configId: string; idempotencyKey?: string; balanceId?: string }): Promise<UserBalance & { replay: boolean }> {
    checkId(a.customerId, 'customerId');
    checkCurrency(a.currency);
    checkId(a.configId, 'configId');
    const g = this.keys.groupOfCustomer(a.customerId);
    const p = this.keys.prefixes[g]!;
    if (a.balanceId !== undefined && this.keys.groupOfBalance(a.balanceId) !== g) {
      throw new LedgerError('LEDGER_ERR_INVALID_BALANCE_ID', `balance id ${a.balanceId} is not in the slot group of customer ${a.customerId}`);
    }
    const id = a.balanceId ?? this.keys.newBalanceId(g);
    const useIdem = a.idempotencyKey !== undefined;
    if (useIdem) checkId(a.idempotencyKey!, 'idempotencyKey');
    const r = await this.fn('create-user-balance')(
      p + 'idem:' + (a.idempotencyKey ?? ''), p + 'ub:' + id, p + 'cust:' + a.customerId,
      id, a.customerId, a.currency, a.configId, this.now(), this.idemTtl, useIdem ? '1' : '0',
    ) as [number, string];
    const b = await this.getUserBalance(r[1]);
    if (b === null) throw new LedgerError('LEDGER_ERR_INVARIANT', `balance ${r[1]} vanished after creation`);
    return { ...b, replay: r[0] === 1 };
  }

  /** The id a new balance of `customerId` will have: derived from `seed` (an idempotency key) when given, else random. */
  balanceIdFor(customerId: string, seed?: string): string {
    return this.keys.newBalanceId(this.keys.groupOfCustomer(customerId), seed === undefined ? undefined : `balance|${customerId}|${seed}`);
  }

  async getUserBalance(id: string): Promise<UserBalance | null> {
    const g = this.keys.groupOfBalance(id);
    if (g < 0) return null;
    const v = await this.redis.hmget(this.keys.prefixes[g]! + 'ub:' + id, 'a', 'b', 'cur', 'cust', 'cfg');
    if (v[0] === null || v[0] === undefined) return null;
    return { id, customerId: v[3]!, currency: v[2]!, configId: v[4]!, availableMinor: Number(v[0]), blockedMinor: Number(v[1]) };
  }

  /** Balance ids of a customer (any currency or program). */
  async listUserBalances(customerId: string): Promise<string[]> {
    const g = this.keys.groupOfCustomer(customerId);
    const ids = await this.redis.smembers(this.keys.prefixes[g]! + 'cust:' + customerId);
    return ids.sort();
  }

  /** One partner balance per (configId, type, currency): a second call returns the existing one. */
  async createPartnerBalance(a: { type: PartnerType; currency: string; configId: string }): Promise<{ balance: PartnerBalance; created: boolean }> {
    if (a.type !== 'DEPOSIT' && a.type !== 'CREDIT' && a.type !== 'COMPANY') {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `unknown partner balance type ${String(a.type)}`);
    }
    checkCurrency(a.currency);
    checkId(a.configId, 'configId');
    const id = Keyspace.partnerId(a.type, a.currency, a.configId);
    const t = String(this.now());
    // Tranches first, then the head: once the head exists every tranche does.
    const create = this.fn('create-if-absent');
    await Promise.all(this.keys.prefixes.map((p) =>
      create(p + 'pbt:' + id, 'a', '0', 'b', '0', 'cur', a.currency, 'type', a.type, 'cfg', a.configId)));
    const created = await create(Keyspace.partnerHead(id), 'type', a.type, 'cur', a.currency, 'cfg', a.configId, 't', t);
    await this.redis.sadd(Keyspace.partnerIndex(), id);
    const balance = await this.getPartnerBalance(id);
    if (balance === null) throw new LedgerError('LEDGER_ERR_INVARIANT', `partner balance ${id} vanished after creation`);
    return { balance, created: created === 1 };
  }

  findPartnerBalance(configId: string, type: PartnerType, currency: string): Promise<PartnerBalance | null> {
    return this.getPartnerBalance(Keyspace.partnerId(type, currency, configId));
  }

  /** Id the partner balance of (configId, type, currency) has or would have (no round trip). */
  partnerBalanceId(configId: string, type: PartnerType, currency: string): string {
    return Keyspace.partnerId(type, currency, configId);
  }

  /**
   * Partner balances in id order, at most `max` of them (read-only: one SMEMBERS of the index, then
   * each balance's tranches). For views over all of them, such as the dashboard.
   */
  async listPartnerBalances(max: number): Promise<PartnerBalance[]> {
    const ids = (await this.redis.smembers(Keyspace.partnerIndex())).sort().slice(0, max);
    const found = await Promise.all(ids.map((id) => this.getPartnerBalance(id)));
    return found.filter((b): b is PartnerBalance => b !== null);
  }

  async getPartnerBalance(id: string): Promise<PartnerBalance | null> {
    const parsed = Keyspace.parsePartnerId(id);
    if (parsed === null) return null;
    if ((await this.redis.exists(Keyspace.partnerHead(id))) === 0) return null;
    const parts = await Promise.all(this.keys.prefixes.map((p) => this.redis.hmget(p + 'pbt:' + id, 'a', 'b')));
    let availableMinor = 0;
    let blockedMinor = 0;
    const tranchesAvailableMinor: number[] = [];
    for (const v of parts) {
      const av = Number(v[0] ?? 0);
      availableMinor += av;
      blockedMinor += Number(v[1] ?? 0);
      tranchesAvailableMinor.push(av);
    }
    return { id, ...parsed, availableMinor, blockedMinor, tranchesAvailableMinor };
  }

  /**
   * Money from outside into a partner balance, spread evenly over its tranches (one single-slot
   * script each, idempotency key `<key>` per slot): a retry after a partial failure completes it.
   */
  async reloadPartnerBalance(a: { id: string; amountMinor: number; idempotencyKey: string; nowMs?: number }): Promise<ReloadResult> {
    checkAmount(a.amountMinor);
    checkId(a.idempotencyKey, 'idempotencyKey');
    if (Keyspace.parsePartnerId(a.id) === null) return { ok: false, reason: 'PARTNER_BALANCE_NOT_FOUND', replay: false, balance: null };
    // The balance as a whole stays within MAX_AMOUNT_MINOR (SPEC §2.2). With several groups this
    // read is not atomic with the tranche scripts (concurrent reloads may race past it); each
    // tranche script bounds its own tranche atomically.
    const before = await this.getPartnerBalance(a.id);
    if (before !== null && before.availableMinor + before.blockedMinor + a.amountMinor > MAX_AMOUNT_MINOR &&
      (await this.redis.exists(this.keys.prefixes[0]! + 'idem:' + a.idempotencyKey)) === 0) {
      return { ok: false, reason: 'AMOUNT_TOO_LARGE', replay: false, balance: before };
    }
    const n = this.keys.groups;
    const base = Math.floor(a.amountMinor / n);
    const rest = a.amountMinor - base * n;
    const now = a.nowMs ?? this.now();
    const calls: Promise<unknown>[] = [];
    for (let g = 0; g < n; g++) {
      const part = base + (g < rest ? 1 : 0);
      if (part === 0) continue;
      calls.push(this.reloadTranche(a.id, g, part, a.idempotencyKey, now));
    }
    const results = await Promise.all(calls) as number[][];
    let replay = true;
    for (const r of results) {
      if (r[0] !== Code.OK) return { ok: false, reason: reasonOf(r[0]!), replay: false, balance: null };
      if (r[1] !== 1) replay = false;
    }
    return { ok: true, reason: 'APPROVED', replay, balance: await this.getPartnerBalance(a.id) };
  }

  private reloadTranche(id: string, g: number, amount: number, key: string, now: number): Promise<unknown> {
    const p = this.keys.prefixes[g]!;
    return this.fn('reload-partner-tranche')(p + 'idem:' + key, p + 'pbt:' + id, this.keys.journals[g]!, this.keys.worlds[g]!,
      amount, now, this.idemTtl, id, this.keys.tags[g]!);
  }

  // ---------------------------------------------------------------- card debits

  /** Authorization hold (0100, forced for 0120): deposit-then-user in one script. */
  hold(a: HoldArgs): Promise<HoldResult> {
    return this.debitScript('H', a);
  }

  /**
   * Single-message debit (0200) or a forced post without an authorization (0220 with no
   * original): checked like a hold (unless forced) and posted at once, status CLEARED.
   */
  debit(a: Omit<HoldArgs, 'expiresAtMs'> & { expiresAtMs?: number }): Promise<HoldResult> {
    return this.debitScript('P', { ...a, expiresAtMs: a.expiresAtMs ?? 0 });
  }

  private async debitScript(mode: 'H' | 'P', a: HoldArgs): Promise<HoldResult> {
    checkAmount(a.amountMinor);
    const fee = a.feeMinor ?? 0;
    const fx = a.fxFeeMinor ?? 0;
    checkFee(fee);
    checkFee(fx);
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    checkId(a.balanceId, 'balanceId');
    if (a.depositId !== null) checkPartnerId(a.depositId, 'DEPOSIT', 'depositId');
    if (a.companyId !== undefined && a.companyId !== null) checkPartnerId(a.companyId, 'COMPANY', 'companyId');
    if (!Number.isSafeInteger(a.expiresAtMs)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'expiresAtMs must be an integer');
    if (a.limits !== undefined) checkLimits(a.limits);
    if (a.orphanTxId !== undefined) checkId(a.orphanTxId, 'orphanTxId');
    if (a.guard !== undefined) checkGuard(a.guard);
    const g = this.groupOf(a.balanceId);
    const forced = a.forced === true;
    const retryable = a.depositId !== null && !forced && this.keys.groups > 1;
    let r = await this.runDebit(mode, a, g, fee, fx, forced, retryable);
    let rebalanced = false;
    if (retryable && r[0] === Code.INSUFFICIENT_DEPOSIT) {
      // The program's deposit is split per slot group: pull what this tranche lacks from the
      // others, then decide again (recorded this time, whatever the outcome).
      rebalanced = await this.refillTranche(a.depositId!, g, a.amountMinor - r[5]!, a.amountMinor);
      r = await this.runDebit(mode, a, g, fee, fx, forced, false);
    }
    const code = r[0]!;
    if (code === Code.GUARD_PRESENT) throw new PreconditionFailedError('PRESENT');
    if (code === Code.GUARD_CHANGED) throw new PreconditionFailedError('CHANGED');
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
    };
  }

  private runDebit(mode: 'H' | 'P', a: HoldArgs, g: number, fee: number, fx: number, forced: boolean, retryable: boolean): Promise<number[]> {
    const p = this.keys.prefixes[g]!;
    const txKey = p + 'tx:' + a.balanceId + ':' + a.txId;
    const companyId = a.companyId ?? '';
    const companyKey = companyId === '' ? txKey : p + 'pbt:' + companyId;
    const lim = a.limits;
    const useKey = lim === undefined ? txKey : p + 'use:' + lim.cardId + ':' + lim.day;
    const now = a.nowMs ?? this.now();
    const gd = a.guard;
    const limits = lim === undefined ? (gd === undefined ? '' : '|||||') : `|${lim.amountMinor ?? ''}|${lim.count ?? ''}|${lim.atmAmountMinor ?? ''}|${lim.atm ? '1' : '0'}|${USAGE_TTL_MS}`;
    const guard = gd === undefined ? '' : `|${gd.fields.join(',')}|${gd.expected.join('\x1f')}`;
    const packed = `${mode}|${forced ? '1' : a.userUnchecked === true ? '2' : '0'}|${a.amountMinor}|${fee}|${fx}|${a.expiresAtMs}|${now}|${this.idemTtl}|` +
      `${a.balanceId}|${a.txId}|${a.depositId ?? ''}|${companyId}|${retryable ? '1' : '0'}${limits}${guard}`;
    const meta: string[] = [];
    if (a.meta !== undefined) for (const k in a.meta) meta.push(k, a.meta[k]!);
    const keys = [p + 'idem:' + a.idempotencyKey, txKey, p + 'ub:' + a.balanceId, a.depositId === null ? txKey : p + 'pbt:' + a.depositId, companyKey,
      this.keys.journals[g]!, this.keys.expiries[g]!, p + 'hist:' + a.balanceId, this.keys.worlds[g]!, useKey,
      a.orphanTxId === undefined ? txKey : p + 'tx:' + a.balanceId + ':' + a.orphanTxId,
      gd === undefined ? txKey : gd.hashKey, gd === undefined || gd.absentKey === null ? txKey : gd.absentKey];
    return new Promise((resolve, reject) => {
      let q = this.pendingDebits.get(g);
      if (q === undefined) { q = []; this.pendingDebits.set(g, q); }
      q.push({ keys, packed, hasDeposit: a.depositId !== null, meta, resolve, reject });
      if (!this.coalesce) this.flushDebits();
      else if (!this.debitFlushScheduled) {
        this.debitFlushScheduled = true;
        process.nextTick(this.flushDebits);
      }
    });
  }

  /**
   * Holds and debits asked for in one tick (the authorizations of a batch) go to Redis as one
   * `hold-many` call per slot group: the client builds and parses one command instead of one per
   * message, and Redis starts one script. Each hold is still checked and written on its own.
   */
  private readonly coalesce: boolean;
  private readonly pendingDebits = new Map<number, PendingDebit[]>();
  private debitFlushScheduled = false;
  private readonly flushDebits = (): void => {
    this.debitFlushScheduled = false;
    for (const [g, q] of this.pendingDebits) {
      this.pendingDebits.delete(g);
      for (let i = 0; i < q.length; i += DEBITS_PER_CALL_MAX) this.sendDebits(q.slice(i, i + DEBITS_PER_CALL_MAX));
    }
  };

  private sendDebits(q: PendingDebit[]): void {
    if (q.length === 1) {
      const d = q[0]!;
      const keys = d.hasDeposit ? d.keys : [d.keys[0]!, d.keys[1]!, d.keys[2]!, ...d.keys.slice(4)];
      (this.fn(d.hasDeposit ? 'hold-deposit-then-user' : 'hold-user')(...keys, d.packed, ...d.meta) as Promise<number[]>).then(d.resolve, d.reject);
      return;
    }
    const keys: string[] = [];
    const args: string[] = [];
    for (const d of q) {
      keys.push(...d.keys);
      args.push(d.packed, d.hasDeposit ? '1' : '0', String(d.meta.length), ...d.meta);
    }
    (this.fn('hold-many')(keys.length, ...keys, ...args) as Promise<number[][]>).then(
      (rs) => q.forEach((d, i) => {
        const r = rs[i];
        if (r === undefined) d.reject(new LedgerError('LEDGER_ERR_UNKNOWN_CODE', 'hold-many returned fewer results than holds'));
        else d.resolve(r);
      }),
      (err: unknown) => { for (const d of q) d.reject(err); },
    );
  }

  /** Full reversal, or partial with the new final amount. A second reversal moves nothing. */
  async release(a: ReleaseArgs): Promise<ReleaseResult> {
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const partial = a.newAmountMinor !== undefined;
    if (partial && (!Number.isSafeInteger(a.newAmountMinor) || a.newAmountMinor! < 0)) {
      throw new LedgerError('LEDGER_ERR_INVALID_AMOUNT', 'newAmountMinor must be a non-negative safe integer');
    }
    const g = this.groupOf(a.balanceId);
    const r = await this.runRelease(partial ? 'P' : 'R', g, a.balanceId, a.txId, a.newAmountMinor ?? 0, a.idempotencyKey, a.nowMs ?? this.now(),
      a.rememberOrphan === true);
    return releaseResult(r);
  }

  /**
   * Reverses any transaction in one script call (SPEC §2.3), in full or down to `newAmountMinor`
   * (its new final amount, field 95):
   * - an open hold (AUTHORIZED) is released, as release() does (effect RELEASED; deposit tranche
   *   included; a partial one keeps the fees held, a full one releases them);
   * - a posted debit (debit(): 0200 or forced post) or a cleared authorization (status CLEARED) is
   *   credited back to the user (effect CREDITED_BACK), mirroring the debit's postings: from
   *   W:scheme, and the deposit tranche it consumed back from W:deposit; a full reversal also
   *   returns the fees posted with it (from the company tranche or W:income), a partial one only
   *   the principal difference. Base of a cleared authorization: what was cleared;
   * - a posted card credit (credit(): REFUND, PAYMENT_CREDIT) is debited back as a forced post
   *   (may go below zero; effect DEBITED_BACK), and the deposit credited back with it is debited
   *   back too.
   * A transaction is reversed at most once: a second call answers ALREADY_REVERSED (ok) and moves
   * nothing, whether the first was full or partial. A full reversal of posted money sets REVERSED,
   * a partial one keeps CLEARED; the record gains `r` = 1 and `rv` (reversedMinor).
   * With `cardId`, the daily-limit usage the original counted is given back (the amount given
   * back; a full reversal also the count) on the usage hash of the day it was counted, if that
   * is today or yesterday (UTC of nowMs); older usage has expired anyway.
   * Unknown transaction: TRANSACTION_NOT_FOUND, nothing moves; with `rememberOrphan` an
   * ORPHAN_REVERSAL record is left so that a late original holds nothing.
   * Internal types (TOPUP & co) are not card transactions: TRANSACTION_NOT_OPEN, nothing moves.
   * Throws LedgerError (bad input) before Redis is touched.
   */
  async reverse(a: ReverseArgs): Promise<ReverseResult> {
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    if (a.newAmountMinor !== undefined) checkFinalAmount(a.newAmountMinor);
    if (a.cardId !== undefined) checkId(a.cardId, 'cardId');
    const g = this.groupOf(a.balanceId);
    const p = this.keys.prefixes[g]!;
    const txKey = p + 'tx:' + a.balanceId + ':' + a.txId;
    const now = a.nowMs ?? this.now();
    const use0 = a.cardId === undefined ? txKey : p + 'use:' + a.cardId + ':' + utcDay(now);
    const use1 = a.cardId === undefined ? txKey : p + 'use:' + a.cardId + ':' + utcDay(now - DAY_MS);
    for (let attempt = 1; ; attempt++) {
      // The partner tranches a reversal touches are those the transaction names; they are read
      // first so that the script gets every key in KEYS, and the script refuses (STALE_KEYS) when
      // the record changed meanwhile (a transaction written between the read and the call).
      const ids = await this.redis.hmget(txKey, 'dp', 'pp', 'kp');
      const depositId = ids[0] || ids[1] || '';
      const companyId = ids[2] || '';
      const r = await this.fn('reverse-transaction')(p + 'idem:' + a.idempotencyKey, txKey, p + 'ub:' + a.balanceId,
        this.keys.journals[g]!, this.keys.expiries[g]!, this.keys.worlds[g]!,
        depositId === '' ? txKey : p + 'pbt:' + depositId, companyId === '' ? txKey : p + 'pbt:' + companyId, use0, use1,
        a.newAmountMinor ?? '', now, this.idemTtl, a.balanceId, a.txId, a.rememberOrphan === true ? '1' : '0', depositId, companyId) as number[];
      if (r[0] !== Code.STALE_KEYS) return reverseResult(r);
      if (attempt >= REVERSE_ATTEMPTS_MAX) {
        throw new LedgerError('LEDGER_ERR_CONTENTION', `transaction ${a.txId} kept changing during its reversal`);
      }
    }
  }

  private runRelease(mode: 'R' | 'P' | 'E', g: number, balanceId: string, txId: string, newAmount: number, idem: string | null, now: number,
    rememberOrphan = false): Promise<number[]> {
    const p = this.keys.prefixes[g]!;
    const txKey = p + 'tx:' + balanceId + ':' + txId;
    return this.fn('release-hold')(idem === null ? txKey : p + 'idem:' + idem, txKey, p + 'ub:' + balanceId,
      this.keys.journals[g]!, this.keys.expiries[g]!,
      mode, newAmount, now, this.idemTtl, balanceId, txId, idem === null ? '0' : '1', rememberOrphan ? '1' : '0') as Promise<number[]>;
  }

  /**
   * Clearing (0220 with an original): equal, less (with `final`, the default, the rest is
   * released), more (the excess is force-posted). `final: false` is one of several partial
   * clearings of one hold. Fees held are posted to the company balance at the first clearing.
   * TRANSACTION_NOT_FOUND: no such authorization; the caller force-posts with debit().
   */
  async clear(a: ClearArgs): Promise<ClearResult> {
    checkAmount(a.amountMinor);
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const g = this.groupOf(a.balanceId);
    const p = this.keys.prefixes[g]!;
    const r = await this.fn('clear-hold')(p + 'idem:' + a.idempotencyKey, p + 'tx:' + a.balanceId + ':' + a.txId, p + 'ub:' + a.balanceId,
      this.keys.journals[g]!, this.keys.expiries[g]!, this.keys.worlds[g]!,
      a.amountMinor, a.final === false ? '0' : '1', a.nowMs ?? this.now(), this.idemTtl, a.balanceId, a.txId) as number[];
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

  /**
   * Releases holds whose expiry is at or before nowMs (as a reversal would) and marks them
   * EXPIRED (CLEARED when partly cleared). Each group's expiry index is read in time order and each
   * hold is released by a script that re-checks status and due time, so concurrent sweepers in
   * several processes release a hold at most once. Returns how many this call released.
   */
  async sweepExpired(nowMs: number = this.now(), limitPerGroup = 500): Promise<{ expired: number; examined: number }> {
    let expired = 0;
    let examined = 0;
    await Promise.all(this.keys.expiries.map(async (expKey, g) => {
      const due = await this.redis.zrangebyscore(expKey, '-inf', nowMs, 'LIMIT', 0, limitPerGroup);
      examined += due.length;
      const results = await Promise.all(due.map((member) => {
        const bar = member.indexOf('|');
        return this.runRelease('E', g, member.slice(0, bar), member.slice(bar + 1), 0, null, nowMs);
      }));
      for (const r of results) if (r[0] === Code.OK) expired++;
    }));
    return { expired, examined };
  }

  // ---------------------------------------------------------------- postings

  /**
   * Internal transaction types (management API), posted at once with the seed's automatic
   * partner postings: TOPUP, PAYMENT, LOAN, CASHBACK debit the CREDIT partner balance (refused
   * above its funds); FUNDING credits it; FEE credits the COMPANY balance; WITHDRAWAL goes out of
   * the system (W:external); COMMISSION and INTEREST are paid to the partner (W:partner).
   * `partnerId` null: the program has no such partner balance and the world account stands in
   * (TOPUP & co from W:external, FUNDING to W:external, FEE to W:income). Whether a missing credit
   * balance is acceptable (`creditRequired`) is the caller's decision.
   */
  async post(a: PostArgs): Promise<PostResult> {
    const rule = INTERNAL_TYPES[a.type];
    if (rule === undefined) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `unknown internal transaction type ${String(a.type)}`);
    const partnerId = rule.partner === null ? null : (a.partnerId ?? null);
    if (partnerId !== null && Keyspace.parsePartnerId(partnerId)?.type !== rule.partner) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `${a.type} posts to a ${rule.partner} partner balance, not ${partnerId}`);
    }
    return this.runPost(a, rule.dir, partnerId, partnerId === null ? 'N' : 'C', rule.world, rule.notFound);
  }

  /**
   * Card credit (refund, payment credit): the user is credited from the scheme (W:scheme) and the
   * program's deposit, if any, is credited back (from W:deposit).
   */
  async credit(a: CreditArgs): Promise<PostResult> {
    const type = a.type ?? 'REFUND';
    if (a.depositId !== null) checkPartnerId(a.depositId, 'DEPOSIT', 'depositId');
    return this.runPost({ ...a, type }, '+', a.depositId, a.depositId === null ? 'N' : 'D', 'W:scheme', 'DEPOSIT_BALANCE_NOT_FOUND');
  }

  private async runPost(a: PostArgs | (CreditArgs & { type: string }), dir: '+' | '-', partnerId: string | null, role: 'C' | 'D' | 'N',
    world: string, notFound: LedgerReason): Promise<PostResult> {
    checkAmount(a.amountMinor);
    checkId(a.txId, 'txId');
    checkId(a.idempotencyKey, 'idempotencyKey');
    const g = this.groupOf(a.balanceId);
    const forced = a.forced === true;
    const retryable = role === 'C' && dir === '+' && !forced && this.keys.groups > 1;
    let r = await this.runPostScript(a, g, dir, partnerId, role, world, forced, retryable);
    let rebalanced = false;
    if (retryable && r[0] === Code.INSUFFICIENT_COLLATERAL) {
      rebalanced = await this.refillTranche(partnerId!, g, a.amountMinor - r[5]!, a.amountMinor);
      r = await this.runPostScript(a, g, dir, partnerId, role, world, forced, false);
    }
    const code = r[0]!;
    return {
      ok: code === Code.OK,
      reason: code === Code.PARTNER_NOT_FOUND ? notFound : reasonOf(code),
      replay: r[1] === 1,
      status: statusOf(r[2]!),
      availableMinor: r[3]!,
      blockedMinor: r[4]!,
      partnerAvailableMinor: r[5]!,
      rebalanced,
    };
  }

  private runPostScript(a: PostArgs | (CreditArgs & { type: string }), g: number, dir: '+' | '-', partnerId: string | null,
    role: 'C' | 'D' | 'N', world: string, forced: boolean, retryable: boolean): Promise<number[]> {
    const p = this.keys.prefixes[g]!;
    const txKey = p + 'tx:' + a.balanceId + ':' + a.txId;
    const args: (string | number)[] = [p + 'idem:' + a.idempotencyKey, txKey, p + 'ub:' + a.balanceId,
      partnerId === null ? txKey : p + 'pbt:' + partnerId, this.keys.journals[g]!, p + 'hist:' + a.balanceId, this.keys.worlds[g]!,
      a.type, dir, a.amountMinor, forced ? '1' : '0', a.nowMs ?? this.now(), this.idemTtl, a.balanceId, a.txId,
      partnerId ?? '', role, world, retryable ? '1' : '0'];
    if (a.meta !== undefined) for (const k in a.meta) args.push(k, a.meta[k]!);
    return this.fn('post-user')(...args) as Promise<number[]>;
  }

  // ---------------------------------------------------------------- reads

  async getTransaction(balanceId: string, txId: string): Promise<Transaction | null> {
    const g = this.keys.groupOfBalance(balanceId);
    if (g < 0) return null;
    const h = await this.redis.hgetall(this.keys.prefixes[g]! + 'tx:' + balanceId + ':' + txId);
    return toTransaction(balanceId, txId, h);
  }

  /** Transactions of a balance, newest first; `cursor` is the offset returned as `next`. */
  async history(balanceId: string, opts: { limit?: number; cursor?: number } = {}): Promise<{ items: Transaction[]; next: number | null }> {
    const g = this.groupOf(balanceId);
    const limit = Math.min(Math.max(opts.limit ?? 50, 1), 500);
    const start = opts.cursor ?? 0;
    const ids = await this.redis.lrange(this.keys.prefixes[g]! + 'hist:' + balanceId, start, start + limit);
    const page = ids.slice(0, limit);
    const items = (await Promise.all(page.map((id) => this.getTransaction(balanceId, id)))).filter((x): x is Transaction => x !== null);
    return { items, next: ids.length > limit ? start + limit : null };
  }

  // ---------------------------------------------------------------- internals

  /**
   * Reads a slot group's journal in order: one entry per operation with its postings
   * (from -> to, amount, code). `afterId` pages on from the last entry read. An audit tool, not
   * a hot-path call: each group's journal holds every operation of its balances.
   */
  async readJournal(group: number, opts: { afterId?: string; count?: number } = {}): Promise<JournalEntry[]> {
    const key = this.keys.journals[group];
    if (key === undefined) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `no slot group ${group}`);
    const count = Math.min(Math.max(opts.count ?? 1000, 1), 10_000);
    const rows = await this.redis.xrange(key, opts.afterId === undefined ? '-' : '(' + opts.afterId, '+', 'COUNT', count);
    return rows.map(([id, fields]) => {
      const f: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) f[fields[i]!] = fields[i + 1]!;
      const postings = (f.p ?? '').split(';').filter((x) => x !== '').map((x) => {
        const [from, to, amount, code] = x.split('>');
        return { from: from!, to: to!, amountMinor: Number(amount), code: code ?? '' };
      });
      return { id, timeMs: Number(id.slice(0, id.indexOf('-'))), op: f.o ?? '', balanceId: f.b ?? '', txId: f.x ?? '', currency: f.c ?? '', postings };
    });
  }

  /**
   * Per currency: the sum of all user balances, of all partner balances, and of both ("wallet"),
   * available + blocked (SPEC §6 summary). Computed without reading the user balances: money
   * inside the system is exactly what came in through the world accounts (conservation), so
   * wallet = -(sum of world accounts) and users = wallet - partners (tranches + in transit).
   * Sums are exact (BigInt): each is a number while it is a safe integer, else its decimal string.
   */
  async summary(): Promise<Record<string, SummaryRow>> {
    const sums = new Map<string, { partners: bigint; wallet: bigint }>();
    const row = (c: string) => {
      let r = sums.get(c);
      if (r === undefined) { r = { partners: 0n, wallet: 0n }; sums.set(c, r); }
      return r;
    };
    const worlds = await Promise.all(this.keys.worlds.map((k) => this.redis.hgetall(k)));
    for (const h of worlds) for (const f in h) row(f.slice(0, f.indexOf(':'))).wallet -= BigInt(h[f]!);
    const ids = await this.redis.smembers(Keyspace.partnerIndex());
    for (const id of ids) {
      const cur = Keyspace.parsePartnerId(id)?.currency;
      if (cur === undefined || (await this.redis.exists(Keyspace.partnerHead(id))) === 0) continue;
      const parts = await Promise.all(this.keys.prefixes.map((p) => this.redis.hmget(p + 'pbt:' + id, 'a', 'b')));
      for (const v of parts) row(cur).partners += BigInt(v[0] ?? 0) + BigInt(v[1] ?? 0);
    }
    for (let g = 0; g < this.keys.groups; g++) {
      for (const id of await this.redis.smembers(this.keys.prefixes[g]! + 'xfers')) {
        const x = await this.redis.hmget(this.keys.prefixes[g]! + 'xfer:' + id, 'amt', 'cur', 'dst');
        if (x[0] === null || x[1] === null) continue;
        if ((await this.redis.exists(`{${x[2]}}:xin:${id}`)) === 0) row(x[1]!).partners += BigInt(x[0]!);
      }
    }
    const out: Record<string, SummaryRow> = {};
    for (const [c, r] of sums) out[c] = { usersMinor: minorSum(r.wallet - r.partners), partnersMinor: minorSum(r.partners), walletMinor: minorSum(r.wallet) };
    return out;
  }

  // ---------------------------------------------------------------- tranches

  /**
   * Moves partner funds from one tranche to another: out of the source slot into an in-transit
   * record, into the destination slot, then the record is closed. Each step is one single-slot
   * script and idempotent, so a crash anywhere leaves money accounted for (see recoverTransfers).
   * Moves up to `amountMinor` (less if the source has less); returns what moved.
   */
  async transferBetweenTranches(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs = this.now()): Promise<number> {
    const id = await this.startTransfer(partnerId, fromGroup, toGroup, amountMinor, nowMs);
    if (id === null) return 0;
    return this.completeTransfer(fromGroup, id);
  }

  /** First step only (tests and recovery drills): returns the transfer id, or null when nothing moved. */
  async startTransfer(partnerId: string, fromGroup: number, toGroup: number, amountMinor: number, nowMs = this.now()): Promise<string | null> {
    checkAmount(amountMinor);
    const src = this.keys.prefixes[fromGroup];
    if (src === undefined || this.keys.prefixes[toGroup] === undefined || fromGroup === toGroup) {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `bad tranche transfer ${fromGroup} -> ${toGroup}`);
    }
    const id = `${this.keys.tags[fromGroup]}-${randomBytes(9).toString('base64url')}`;
    const r = await this.fn('transfer-out')(src + 'pbt:' + partnerId, src + 'xfer:' + id, src + 'xfers', this.keys.journals[fromGroup]!,
      partnerId, amountMinor, this.keys.tags[toGroup]!, nowMs, id, this.keys.tags[fromGroup]!) as number[];
    return r[0] === Code.OK ? id : null;
  }

  /** Lands an in-transit transfer in its destination and closes it; idempotent. Returns the amount. */
  async completeTransfer(fromGroup: number, transferId: string): Promise<number> {
    const src = this.keys.prefixes[fromGroup]!;
    const x = await this.redis.hgetall(src + 'xfer:' + transferId);
    if (x.amt === undefined || x.dst === undefined || x.pid === undefined || x.cur === undefined) return 0;
    const dst = `{${x.dst}}:`;
    const r = await this.fn('transfer-in')(dst + 'pbt:' + x.pid, dst + 'xin:' + transferId, dst + 'jnl',
      x.pid, x.amt, x.cur, transferId, x.dst, this.now()) as number[];
    if (r[0] !== Code.OK) throw new LedgerError('LEDGER_ERR_TRANSFER', `transfer ${transferId} cannot land: ${reasonOf(r[0]!)}`);
    await this.fn('transfer-done')(src + 'xfer:' + transferId, src + 'xfers', transferId);
    return Number(x.amt);
  }

  /** Finishes every transfer left in transit (after a crash); run at start-up and now and then. */
  async recoverTransfers(): Promise<number> {
    let n = 0;
    for (let g = 0; g < this.keys.groups; g++) {
      for (const id of await this.redis.smembers(this.keys.prefixes[g]! + 'xfers')) {
        await this.completeTransfer(g, id);
        n++;
      }
    }
    return n;
  }

  /**
   * Refills tranche `group` of a partner balance from the others, richest first. It pulls the
   * largest of the shortfall, 4x the amount asked for and the tranche's fair share (total / groups), so a tranche under
   * skewed load comes back once per several authorizations, not for each. Returns whether
   * anything moved.
   */
  protected async refillTranche(partnerId: string, group: number, needMinor: number, amountMinor: number): Promise<boolean> {
    const avail = await this.trancheAvailables(partnerId);
    const total = avail.reduce((s, a) => s + Math.max(a, 0), 0);
    const order = avail.map((a, g) => ({ a, g })).filter((x) => x.g !== group && x.a > 0).sort((x, y) => y.a - x.a);
    const need = Math.max(needMinor, 1);
    let missing = Math.max(need, amountMinor * REFILL_FACTOR, Math.floor(total / this.keys.groups));
    let got = 0;
    for (const { a, g } of order) {
      if (missing <= 0) break;
      const moved = await this.transferBetweenTranches(partnerId, g, group, Math.min(a, missing));
      missing -= moved;
      got += moved;
    }
    return got > 0;
  }

  /**
   * Evens out the tranches of a partner balance (a background task; authorizations also refill
   * on demand). Returns the number of transfers made.
   */
  async rebalancePartnerBalance(partnerId: string): Promise<number> {
    const avail = await this.trancheAvailables(partnerId);
    const total = avail.reduce((s, a) => s + Math.max(a, 0), 0);
    const target = Math.floor(total / this.keys.groups);
    const rich = avail.map((a, g) => ({ g, extra: a - target })).filter((x) => x.extra > 0);
    const poor = avail.map((a, g) => ({ g, lack: target - a })).filter((x) => x.lack > 0);
    let transfers = 0;
    for (const p of poor) {
      for (const r of rich) {
        if (p.lack <= 0) break;
        const amount = Math.min(p.lack, r.extra);
        if (amount <= 0) continue;
        const got = await this.transferBetweenTranches(partnerId, r.g, p.g, amount);
        r.extra -= got;
        p.lack -= got;
        if (got > 0) transfers++;
      }
    }
    return transfers;
  }

  private async trancheAvailables(partnerId: string): Promise<number[]> {
    const rows = await Promise.all(this.keys.prefixes.map((p) => this.redis.hget(p + 'pbt:' + partnerId, 'a')));
    return rows.map((v) => Number(v ?? 0));
  }

  protected fn(name: string): ScriptFn {
    const f = this.fns.get(name);
    if (f === undefined) throw new LedgerError('LEDGER_ERR_SCRIPT_MISSING', `ledger/lua has no script ${name}`);
    return f;
  }

  protected groupOf(balanceId: string): number {
    const g = this.keys.groupOfBalance(balanceId);
    if (g < 0) throw new LedgerError('LEDGER_ERR_INVALID_BALANCE_ID', `not a user balance id of this ledger: ${balanceId}`);
    return g;
  }
}

function toTransaction(balanceId: string, txId: string, h: Record<string, string>): Transaction | null {
  if (h.s === undefined) return null;
  const meta: Record<string, string> = {};
  for (const k in h) if (k.startsWith('m:')) meta[k.slice(2)] = h[k]!;
  return {
    txId, balanceId,
    type: h.ty ?? 'HOLD',
    status: statusOf(Number(h.s)),
    currency: h.cur ?? '',
    amountMinor: Number(h.a ?? 0),
    heldMinor: Number(h.h ?? 0),
    feesHeldMinor: Number(h.fh ?? 0),
    feeMinor: Number(h.f ?? 0),
    fxFeeMinor: Number(h.x ?? 0),
    depositHeldMinor: Number(h.db ?? 0),
    clearedMinor: Number(h.c ?? 0),
    depositId: h.dp ? h.dp : null,
    companyId: h.kp ? h.kp : null,
    expiresAtMs: Number(h.e ?? 0),
    createdAtMs: Number(h.t ?? 0),
    forced: h.fc === '1',
    reversed: h.r === '1',
    reversedMinor: Number(h.rv ?? 0),
    meta,
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
  const effect = EFFECTS[r[3]!];
  if (effect === undefined) throw new LedgerError('LEDGER_ERR_UNKNOWN_CODE', `reverse-transaction returned unknown effect ${r[3]}`);
  return {
    ok: code === Code.OK || code === Code.ALREADY_REVERSED,
    reason: reasonOf(code),
    replay: r[1] === 1,
    status: statusOf(r[2]!),
    effect,
    movedMinor: r[4]!,
    availableMinor: r[5]!,
    blockedMinor: r[6]!,
    amountMinor: r[7]!,
  };
}

/** An exact sum as a number while safe, else as its decimal string (MinorSum). */
export function minorSum(n: bigint): MinorSum {
  return n <= BigInt(Number.MAX_SAFE_INTEGER) && n >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(n) : n.toString();
}

/** UTC day of an epoch ms, YYYYMMDD (the day of a card's usage hash, as the switch names it). */
export function utcDay(ms: number): string {
  const d = new Date(ms);
  return String(d.getUTCFullYear()) + String(d.getUTCMonth() + 1).padStart(2, '0') + String(d.getUTCDate()).padStart(2, '0');
}

function checkLimits(l: DailyLimits): void {
  checkId(l.cardId, 'limits.cardId');
  if (!/^\d{8}$/.test(l.day)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'limits.day must be YYYYMMDD');
  for (const v of [l.amountMinor, l.count, l.atmAmountMinor]) {
    if (v !== null && !(Number.isSafeInteger(v) && v >= 0)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'a limit must be null or a non-negative integer');
  }
}

/** HoldArgs.guard: names and values must survive the packed argument's separators. */
function checkGuard(g: HoldGuard): void {
  if (g.fields.length === 0 || g.fields.length !== g.expected.length) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: one expected value per field, at least one field');
  for (const f of g.fields) if (f === '' || /[,|]/.test(f)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: a field name is empty or holds , or |');
  for (const v of g.expected) if (/[|\x1f]/.test(v)) throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', 'guard: an expected value holds | or \\x1f');
}

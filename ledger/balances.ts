// User and partner balances: opening them, reading them, and money from outside into a partner
// balance (a reload, spread over its slot-group tranches).
import { assertResult, assertVector } from './assert.js';
import { Code, LedgerError, reasonOf } from './codes.js';
import type { LedgerCore } from './core.js';
import { Keyspace, type PartnerType } from './keys.js';
import { type PartnerBalance, type ReloadResult, type UserBalance, MAX_AMOUNT_MINOR } from './types.js';
import { checkAmount, checkCurrency, checkId } from './validate.js';

export class Balances {
  constructor(private readonly core: LedgerCore) {}

  /**
   * Opens a user balance for a customer (one script: the balance and the customer's index).
   * `balanceId`: an id chosen beforehand (balanceIdFor); it must lie in the customer's slot group.
   * Throws LedgerError: LEDGER_ERR_INVALID_ID / _INVALID_ARGUMENT (bad ids or currency),
   * LEDGER_ERR_INVALID_BALANCE_ID (balanceId outside the customer's group), LEDGER_ERR_INVARIANT.
   */
  async createUserBalance(a: { customerId: string; currency: string; configId: string; idempotencyKey?: string; balanceId?: string }): Promise<UserBalance & { replay: boolean }> {
    checkId(a.customerId, 'customerId');
    checkCurrency(a.currency);
    checkId(a.configId, 'configId');
    const { keys } = this.core;
    const g = keys.groupOfCustomer(a.customerId);
    if (a.balanceId !== undefined && keys.groupOfBalance(a.balanceId) !== g) {
      throw new LedgerError('LEDGER_ERR_INVALID_BALANCE_ID', `balance id ${a.balanceId} is not in the slot group of customer ${a.customerId}`);
    }
    const id = a.balanceId ?? keys.newBalanceId(g);
    const useIdem = a.idempotencyKey !== undefined;
    if (useIdem) checkId(a.idempotencyKey!, 'idempotencyKey');
    const r = await this.core.fn('create-user-balance')(
      keys.idempotency(g, a.idempotencyKey ?? ''), keys.userBalance(g, id), keys.customerBalances(g, a.customerId),
      id, a.customerId, a.currency, a.configId, this.core.now(), this.core.idemTtl, useIdem ? '1' : '0',
    ) as [number, string];
    const b = await this.getUserBalance(r[1]);
    if (b === null) throw new LedgerError('LEDGER_ERR_INVARIANT', `balance ${r[1]} vanished after creation`);
    return { ...b, replay: r[0] === 1 };
  }

  /** The id a new balance of `customerId` will have: derived from `seed` (an idempotency key) when given, else random. */
  balanceIdFor(customerId: string, seed?: string): string {
    const { keys } = this.core;
    return keys.newBalanceId(keys.groupOfCustomer(customerId), seed === undefined ? undefined : `balance|${customerId}|${seed}`);
  }

  /** A user balance (amounts in minor units), or null when the id names none. */
  async getUserBalance(id: string): Promise<UserBalance | null> {
    const g = this.core.keys.groupOfBalance(id);
    if (g < 0) return null;
    const v = await this.core.redis.hmget(this.core.keys.userBalance(g, id), 'a', 'b', 'cur', 'cust', 'cfg');
    if (v[0] === null || v[0] === undefined) return null;
    return { id, customerId: v[3]!, currency: v[2]!, configId: v[4]!, availableMinor: Number(v[0]), blockedMinor: Number(v[1]) };
  }

  /** Balance ids of a customer (any currency or program), sorted. */
  async listUserBalances(customerId: string): Promise<string[]> {
    const g = this.core.keys.groupOfCustomer(customerId);
    const ids = await this.core.redis.smembers(this.core.keys.customerBalances(g, customerId));
    return ids.sort();
  }

  /**
   * One partner balance per (configId, type, currency): a second call returns the existing one.
   * Throws LedgerError LEDGER_ERR_INVALID_ARGUMENT / _INVALID_ID on bad input.
   */
  async createPartnerBalance(a: { type: PartnerType; currency: string; configId: string }): Promise<{ balance: PartnerBalance; created: boolean }> {
    if (a.type !== 'DEPOSIT' && a.type !== 'CREDIT' && a.type !== 'COMPANY') {
      throw new LedgerError('LEDGER_ERR_INVALID_ARGUMENT', `unknown partner balance type ${String(a.type)}`);
    }
    checkCurrency(a.currency);
    checkId(a.configId, 'configId');
    const { keys } = this.core;
    const id = Keyspace.partnerId(a.type, a.currency, a.configId);
    const t = String(this.core.now());
    // Tranches first, then the head: once the head exists every tranche does.
    const create = this.core.fn('create-if-absent');
    await Promise.all(keys.tranches(id).map((k) => create(k, 'a', '0', 'b', '0', 'cur', a.currency, 'type', a.type, 'cfg', a.configId)));
    const created = await create(Keyspace.partnerHead(id), 'type', a.type, 'cur', a.currency, 'cfg', a.configId, 't', t);
    await this.core.redis.sadd(Keyspace.partnerIndex(), id);
    const balance = await this.getPartnerBalance(id);
    if (balance === null) throw new LedgerError('LEDGER_ERR_INVARIANT', `partner balance ${id} vanished after creation`);
    return { balance, created: created === 1 };
  }

  /**
   * Partner balances in id order, at most `max` of them (read-only: one SMEMBERS of the index, then
   * each balance's tranches). For views over all of them, such as the dashboard.
   */
  async partnerBalanceIds(): Promise<string[]> {
    return (await this.core.redis.smembers(Keyspace.partnerIndex())).sort();
  }

  async listPartnerBalances(max: number): Promise<PartnerBalance[]> {
    const ids = (await this.core.redis.smembers(Keyspace.partnerIndex())).sort().slice(0, max);
    const found = await Promise.all(ids.map((id) => this.getPartnerBalance(id)));
    return found.filter((b): b is PartnerBalance => b !== null);
  }

  /** A partner balance, the sum of its tranches (minor units), or null when it does not exist. */
  async getPartnerBalance(id: string): Promise<PartnerBalance | null> {
    const parsed = Keyspace.parsePartnerId(id);
    if (parsed === null) return null;
    const { redis, keys } = this.core;
    if ((await redis.exists(Keyspace.partnerHead(id))) === 0) return null;
    const parts = await Promise.all(keys.tranches(id).map((k) => redis.hmget(k, 'a', 'b')));
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
   * Throws LedgerError on a bad amount or key (before Redis is touched).
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
      (await this.core.redis.exists(this.core.keys.idempotency(0, a.idempotencyKey))) === 0) {
      return { ok: false, reason: 'AMOUNT_TOO_LARGE', replay: false, balance: before };
    }
    const n = this.core.keys.groups;
    const base = Math.floor(a.amountMinor / n);
    const rest = a.amountMinor - base * n;
    const now = a.nowMs ?? this.core.now();
    const calls: Promise<number[]>[] = [];
    for (let g = 0; g < n; g++) {
      const part = base + (g < rest ? 1 : 0);
      if (part === 0) continue;
      calls.push(this.reloadTranche(a.id, g, part, a.idempotencyKey, now));
    }
    const results = await Promise.all(calls);
    let replay = true;
    for (const r of results) {
      if (r[0] !== Code.OK) return { ok: false, reason: reasonOf(r[0]!), replay: false, balance: null };
      if (r[1] !== 1) replay = false;
    }
    return { ok: true, reason: 'APPROVED', replay, balance: await this.getPartnerBalance(a.id) };
  }

  private async reloadTranche(id: string, g: number, amount: number, key: string, now: number): Promise<number[]> {
    const { keys } = this.core;
    const r = await this.core.fn('reload-partner-tranche')(keys.idempotency(g, key), keys.tranche(g, id), keys.journals[g]!, keys.worlds[g]!,
      amount, now, this.core.idemTtl, id, keys.tags[g]!);
    assertVector('reload-partner-tranche', r);
    // {code, replay, status, trancheAvailable, trancheBlocked, amount, 0, 0}
    assertResult(r[0] !== Code.OK || r[1] === 1 || r[5] === amount, 'reload-partner-tranche', 'a fresh reload credits exactly its part', r);
    return r;
  }
}

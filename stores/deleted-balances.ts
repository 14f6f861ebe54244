// Balances deleted through the management API (seed "Delete balance": only at zero). The ledger
// keeps such a balance, at zero and with its history, so its postings still balance; this store
// remembers that the API treats it as gone: balance id → when it was deleted (ms since the epoch),
// one hash (StoreKeys.deletedBalances).
import type { Redis, Cluster } from 'ioredis';
import { StoreKeys } from '../ledger/keys.js';

export class DeletedBalances {
  constructor(private readonly redis: Redis | Cluster) {}

  /** Whether the balance was deleted. */
  async has(balanceId: string): Promise<boolean> {
    return (await this.redis.hexists(StoreKeys.deletedBalances(), balanceId)) === 1;
  }

  /** For each id, whether it was deleted (one HMGET). */
  async which(balanceIds: readonly string[]): Promise<boolean[]> {
    if (balanceIds.length === 0) return [];
    const at = await this.redis.hmget(StoreKeys.deletedBalances(), ...balanceIds);
    return at.map((v) => v !== null);
  }

  /** Marks the balance deleted at `atMs`. */
  async mark(balanceId: string, atMs: number): Promise<void> {
    await this.redis.hset(StoreKeys.deletedBalances(), balanceId, String(atMs));
  }
}

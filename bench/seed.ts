// Funded cards for the benchmarks, written straight through the ledger and the card store (no
// API, no switch): one DEPOSIT partner balance of the program reloaded to the maximum, then per
// PAN a user balance topped up with `fundsMinor` and an active card on it.
import type { Redis } from 'ioredis';
import { Ledger, MAX_AMOUNT_MINOR } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { derive } from '../stores/secrets.js';

/** What the seeded cards are called and how much each balance holds. */
export interface SeedOptions {
  /** The program (configId) the balances and cards belong to. */
  readonly configId: string;
  /** Each user balance's top-up, minor units. */
  readonly fundsMinor: number;
  /** Prefix of the customer ids (`<prefix>-<i>`), idempotency keys and card ids (`<cardPrefix><i>`). */
  readonly prefix: string;
  /** Prefix of the card ids; default `prefix`. */
  readonly cardPrefix?: string;
}

/**
 * Seeds one card per PAN in `redis`, the card store keyed with `secret` as the switch derives it
 * (stores/secrets.ts, `env`). Returns the user balance ids, in the PANs' order. Cards expire
 * 12/30. Throws what the ledger or the card store throws.
 */
export async function seedCards(redis: Redis, secret: Buffer, pans: readonly string[], o: SeedOptions): Promise<string[]> {
  // As the switch opens it: the switch's records index every message, the ledger keeps no history list.
  const ledger = await Ledger.open(redis, { balanceHistory: false });
  const cards = CardStore.fromSecrets(redis, derive(secret, 'env'));
  const dep = await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: o.configId });
  await ledger.reloadPartnerBalance({ id: dep.balance.id, amountMinor: MAX_AMOUNT_MINOR, idempotencyKey: `${o.prefix}-deposit` });
  const ids: string[] = [];
  for (const [i, pan] of pans.entries()) {
    const customerId = `${o.prefix}-${i}`;
    const b = await ledger.createUserBalance({ customerId, currency: 'EUR', configId: o.configId });
    ids.push(b.id);
    await ledger.post({ type: 'TOPUP', idempotencyKey: `${o.prefix}-top-${i}`, txId: `${o.prefix}-top-${i}`, balanceId: b.id, amountMinor: o.fundsMinor, partnerId: null });
    await cards.put(pan, { id: `${o.cardPrefix ?? o.prefix}${i}`, customerId, balanceId: b.id, configId: o.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  }
  return ids;
}

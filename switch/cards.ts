// The card store as the authorization path sees it: a card record found by a keyed hash of the PAN
// (HMAC-SHA-256 with a secret key), so Redis never holds a PAN in a key and a key dump reveals
// nothing. The full card lifecycle (encrypted PAN, locks, activation) grows here.
import { createHmac } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';

export type CardStatus = 'ACTIVE' | 'INACTIVE';

export interface CardRecord {
  id: string;
  customerId: string;
  balanceId: string;
  configId: string;
  currency: string;   // the balance's currency, alpha-3
  expiry: string;     // YYMM as on the wire (field 14)
  status: CardStatus;
  lock: number;       // 0 = not locked, else the seed's lock code
}

export class CardStore {
  constructor(private readonly redis: Redis | Cluster, private readonly indexKey: Buffer) {}

  panIndex(pan: string): string {
    return createHmac('sha256', this.indexKey).update(pan).digest('base64url');
  }

  private key(index: string): string { return `card:pan:${index}`; }

  async put(pan: string, rec: CardRecord): Promise<void> {
    await this.redis.hset(this.key(this.panIndex(pan)), rec as unknown as Record<string, string | number>);
  }

  async findByPan(pan: string): Promise<CardRecord | null> {
    const h = await this.redis.hgetall(this.key(this.panIndex(pan)));
    if (h.id === undefined) return null;
    return {
      id: h.id, customerId: h.customerId ?? '', balanceId: h.balanceId ?? '', configId: h.configId ?? '',
      currency: h.currency ?? '', expiry: h.expiry ?? '', status: (h.status ?? 'INACTIVE') as CardStatus,
      lock: Number(h.lock ?? 0),
    };
  }
}

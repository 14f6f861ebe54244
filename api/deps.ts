// What the management API's handlers work with. The API owns no state of its own apart from
// the idempotency records: customers, cards, balances and transactions live in their stores.
import type { Redis, Cluster } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Ledger } from '../ledger/index.js';
import type { ProgramTable } from '../stores/programs.js';
import type { CardStore } from '../stores/cards.js';
import type { CustomerStore } from '../stores/customers.js';
import type { TransactionFeed } from './feed.js';
import type { OutboxAdmin } from '../adapters/outbox.js';
import type { PartnerClients } from '../adapters/partners.js';
import type { KeyStore } from '../cardauth/keys.js';
import type { EncryptionKey } from './jwe.js';
import type { CardDataBuilder } from '../cardauth/card-data.js';

/** Card and internal transactions as the Legacy Transactions Notifier describes them (stores/records.ts). */
export interface TransactionSource {
  list(q: { balanceId?: string; cardId?: string; limit: number; cursor?: string }): Promise<{ items: readonly object[]; next: string | null }>;
  get(id: string): Promise<object | null>;
  /** The record of an internal transaction posted through this API (its id is stable per balance and ledger transaction). */
  recordInternal(a: {
    balanceId: string; txId: string; type: string; category: 'DEBIT' | 'CREDIT'; amountMinor: number; currency: string;
    description: string; ok: boolean; reason: string; nowMs: number;
  }): Promise<object>;
}

/** Where the sandbox routes (SANDBOX=1) send their messages: this switch's own ISO 8583 listener. */
export interface SandboxTarget {
  host: string;
  port: number;
  dialect: '1987' | '2003';
  /**
   * The id of the record the switch writes for a message (stores/records.ts recordIdOf of its
   * duplicate key): MTI class, PAN, STAN, field 7, acquirer (n11), terminal.
   */
  recordId(mtiClass: string, pan: string, stan: string, f7: string, acquirer11: string, terminal: string): string;
  /**
   * Card data for the simulated messages (a track, a CVV2, a PIN block, a chip read), made with
   * the switch's own key set: the sandbox plays the card and the acquirer, a development-only
   * convenience (docs/cards.md). Absent: the sandbox sends no card data.
   */
  cardData?: CardDataBuilder;
}

export interface ApiDeps {
  redis: Redis | Cluster;
  ledger: Ledger;
  programs: ProgramTable;
  /** A card store with the sensitive keys (CardStore.fromSecrets): it issues and reveals. */
  cards: CardStore;
  /** Card keys as operations (CVV2 of the card data, PVV of a new PIN); never the keys themselves. */
  keys: KeyStore;
  /** The switch's RSA key pair for encrypted requests (GET /secure/encryption-key, set PIN). */
  encryptionKey: EncryptionKey;
  customers: CustomerStore;
  /** null until the switch keeps transaction records: the /secure/transactions routes answer 503. */
  records: TransactionSource | null;
  feed: TransactionFeed;
  /** The partner-call outbox (adapters/outbox.ts); absent or null: the /secure/outbox routes answer 503. */
  outbox?: OutboxAdmin | null;
  /** Partner clients of the programs (adapters/partners.ts): EXTERNAL_BALANCE balances are linked through them. Absent: such balances answer 503. */
  partners?: PartnerClients | null;
  health(): Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The switch's metric registry, its sampled gauges (in-flight, connections, worker queue) refreshed first. */
  registry(): Promise<Registry>;
  /** SANDBOX=1: the listener the /sandbox/simulate routes talk to; absent or null: those routes are not routed. */
  sandbox?: SandboxTarget | null;
  /** SANDBOX=1 set explicitly: the card data API shows a physical card's track-2 image (never otherwise). */
  trackImages?: boolean;
  /** When the switch's counters were zero (ms since the epoch): the dashboard's first rates start there. */
  startedMs: number;
}

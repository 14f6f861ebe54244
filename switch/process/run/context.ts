// Everything the deciding code needs, built once per thread that decides (a worker, or the main
// thread in the inline placement): codec, ledger, card store, programs, the partner clients of the
// partner-mode programs and the outbox the calls a partner cannot refuse are written to.
import { Cluster, type Redis } from 'ioredis';
import { Registry } from 'prom-client';
import { Outbox } from '../../../adapters/outbox.js';
import { PartnerClients } from '../../../adapters/partners.js';
import { IsoCodec } from '../../../iso/codec.js';
import { dialectByName } from '../../../iso/dialect.js';
import { Ledger } from '../../../ledger/index.js';
import { CardStore } from '../../../stores/cards.js';
import type { ProgramTable } from '../../../stores/programs.js';
import { TransactionRecords } from '../../../stores/records.js';
import { SoftwareKeyStore, type KeySet, type KeyStore } from '../../../cardauth/keys.js';

export interface ProcessContext {
  dialect: '1987' | '2003';
  codec: IsoCodec;
  ledger: Ledger;
  cards: CardStore;
  programs: ProgramTable;
  /** Transaction records, the duplicate-answer cache and the retrieval-reference index. */
  records: TransactionRecords;
  /** SWITCH_SECRET's PAN-index key (stores/secrets.ts): the HMAC key of card lookups, duplicate keys and record ids (no PAN in keys). */
  panIndexKey: Buffer;
  /** Card keys, as operations (cardauth/keys.ts): CVV, PIN, ARQC verification and the ARPC of an answer. */
  keys: KeyStore;
  /** One client per partner-mode program (adapters/partners.ts). */
  partners: PartnerClients;
  /** Where force-debits, force-credits, reversals, clearings and notifications wait to be sent (written before the answer). */
  outbox: Outbox;
  /** DEPOSIT / COMPANY partner balance id per type:configId:currency. Ids never change once created; absence is re-checked after a second. */
  depositIds: Map<string, { id: string | null; checkedAtMs: number }>;
  /**
   * 0100/0200 debits of a card already read on this thread are decided in one round trip: the
   * card from memory, re-checked with the duplicate lookup in the hold's own script (Request.guard).
   * Off on a Redis Cluster (the card's key lives in another slot) and with CARD_CACHE=off.
   */
  guardedHolds: boolean;
  now(): number;
}

export async function createContext(a: {
  dialect: '1987' | '2003'; redis: Redis | Cluster; programs: ProgramTable; panIndexKey: Buffer; holdCoalescing?: boolean;
  /** Registry of the partner metrics; a worker's own when left out (the main thread observes decision-path calls from the events). */
  registry?: Registry;
  /** CARD_CACHE: decide debits of known cards in one round trip (default true; never on a cluster). */
  cardCache?: boolean;
  /** The card keys per program (KEYS_FILE or the development key set), for this thread's key store. */
  keys: KeySet;
}): Promise<ProcessContext> {
  const ledger = await Ledger.open(a.redis, { coalesceDebits: a.holdCoalescing !== false, balanceHistory: false });
  const outbox = await Outbox.open(a.redis);
  return {
    dialect: a.dialect,
    codec: new IsoCodec(dialectByName(a.dialect)),
    ledger,
    records: new TransactionRecords(a.redis, ledger),
    panIndexKey: a.panIndexKey,
    cards: new CardStore(a.redis, a.panIndexKey),
    programs: a.programs,
    keys: new SoftwareKeyStore(a.keys),
    partners: new PartnerClients(a.programs, a.registry ?? new Registry()),
    outbox,
    depositIds: new Map(),
    guardedHolds: a.cardCache !== false && !(a.redis instanceof Cluster),
    now: Date.now,
  };
}

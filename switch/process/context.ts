// Everything the deciding code needs, built once per thread that decides (a worker, or the main
// thread in the inline placement): codec, ledger, card store, programs.
import type { Redis, Cluster } from 'ioredis';
import { IsoCodec } from '../iso/codec.js';
import { dialectByName } from '../iso/dialect.js';
import { Ledger } from '../../ledger/index.js';
import { CardStore } from '../cards.js';
import type { ProgramTable } from '../programs.js';
import { TransactionRecords } from '../records.js';

export interface ProcessContext {
  dialect: '1987' | '2003';
  codec: IsoCodec;
  ledger: Ledger;
  cards: CardStore;
  programs: ProgramTable;
  /** Transaction records, the duplicate-answer cache and the retrieval-reference index. */
  records: TransactionRecords;
  /** Key of the HMAC that turns a message's duplicate key into a Redis key and record id (no PAN in keys). */
  duplicateKeyHmac: Buffer;
  /** DEPOSIT / COMPANY partner balance id per type:configId:currency. Ids never change once created; absence is re-checked after a second. */
  depositIds: Map<string, { id: string | null; checkedAtMs: number }>;
  now(): number;
}

export async function createContext(a: {
  dialect: '1987' | '2003'; redis: Redis | Cluster; programs: ProgramTable; cardIndexKey: Buffer; holdCoalescing?: boolean;
}): Promise<ProcessContext> {
  const ledger = await Ledger.open(a.redis, { coalesceDebits: a.holdCoalescing !== false });
  return {
    dialect: a.dialect,
    codec: new IsoCodec(dialectByName(a.dialect)),
    ledger,
    records: new TransactionRecords(a.redis, ledger),
    duplicateKeyHmac: a.cardIndexKey,
    cards: new CardStore(a.redis, a.cardIndexKey),
    programs: a.programs,
    depositIds: new Map(),
    now: Date.now,
  };
}

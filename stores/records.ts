// Transaction records: one per money message (approved, declined or invalid), shaped as the
// seed's Legacy Transactions Notifier transaction object, plus the duplicate-answer cache.
//
// Keys (each record lives in the slot group of its balance, like the ledger; a message for an
// unknown card in group 0):
//   {gNN}:rec:<recordId>          string  the record (stores/record-codec.ts: a JSON array of its values)
//   {gNN}:recs:bal:<balanceId>    zset    record ids of a balance, scored by time ms
//   {gNN}:recs:card:<cardId>      zset    record ids of a card
//   {g00}:recs:unattributed       zset    records of messages for unknown cards (no balance or card index)
//   {gNN}:recs:log                stream  every record written, replaced or forgotten, until the
//                                         history copier has copied it to the history database
//   {gNN}:dup:<key>               string  the framed answer of a message, kept DUPLICATE_WINDOW (48 h, SPEC §2.3)
//   {gNN}:rrn:<cardId>:<field 37> string  ledger transaction ids of the card's approved originals
//                                         with that retrieval reference (reversal/clearing fallback),
//                                         newline-separated (a set when written before 2026-11-30)
//   {gNN}:oid:<identity>          string  ledger transaction ids of the card's approved originals
//                                         with that identity: what a field 90 names (card, MTI class,
//                                         field 7, STAN, acquirer) without field 41, for a reversal
//                                         or clearing that carries no field 41 (SPEC §2.3); as above
//
// A record id is a UUID-shaped HMAC of the message's duplicate key (MTI class, fields 2, 11, 7,
// 32, 41), so a repeat of a message names the same record and writes nothing twice, and the id
// reveals nothing about the PAN. The status of an authorization is the ledger's, read when the
// record is read: AUTHORIZED becomes CLEARED, REVERSED or EXPIRED without rewriting the record.
// Every answered message's record is durable before its answer leaves: an approval's is written
// by its hold (HoldArgs.record), every other one by `queue` before the batch's answers go out.
//
// Hot state and history (docs/ledger.md, "Hot state and history"): every record written goes to
// its slot group's record log in the same script; the history copier copies it to the history
// database, then gives the record and its index entries REDIS_RETENTION to live. The cached answer
// lives DUPLICATE_WINDOW, the reference indexes REFERENCE_RETENTION (the ledger's windows). Reads
// (get, list) answer from Redis and, given an ArchivedRecords, from the history database, with the
// same objects, order and cursors.
import { createHash, createHmac } from 'node:crypto';
import type { Redis, Cluster } from 'ioredis';
import type { ApprovalRecord, Ledger } from '../ledger/index.js';
import { StoreKeys, uuidFromHash } from '../ledger/keys.js';
import { defineSwitchScripts } from './lua.js';
import { decodeRecord, encodeRecord } from './record-codec.js';
import type { IsoFields } from '../iso/codec.js';
import { acquirer11, mtiClass, text } from '../iso/wire.js';

export const RECORDS_PAGE_MAX = 200;
/** Records queued for one write (TransactionRecords.queue) before it leaves without waiting for the turn to end. */
export const RECORDS_QUEUED_MAX = 256;

/** A record as the history database keeps it (history/reads.ts). */
export interface ArchivedRecord {
  id: string;
  /** The record's index score (time ms), as in the Redis indexes. */
  timeMs: number;
  /** The stored form (stores/record-codec.ts). */
  body: string;
  /** The ledger transaction's state as its last archived journal entry left it; null when none is archived. */
  ledger: { status: 'AUTHORIZED' | 'CLEARED' | 'REVERSED' | 'EXPIRED' | 'NONE'; reversedMinor: number } | null;
}

/** Which records a listing is of: a balance's, a card's, or those of messages for unknown cards. */
export type RecordIndex = { balanceId: string } | { cardId: string } | { unattributed: true };

/** The records of the history database (history/reads.ts implements it over PostgreSQL). */
export interface ArchivedRecords {
  /** The record with this id, or null (none, or forgotten). */
  get(id: string): Promise<ArchivedRecord | null>;
  /** Up to `limit` records of the index, newest first (time ms, then id, descending), strictly before `before` when given. */
  list(index: RecordIndex, before: { score: number; id: string } | null, limit: number): Promise<ArchivedRecord[]>;
}

export type { TransactionData, SeedTransactionObject, TransactionObject } from './transaction-object.js';
import type { TransactionObject } from './transaction-object.js';

interface RecordCommands {
  recordWriteMany(numKeys: number, ...keysThenArgs: (string | number | Buffer)[]): Promise<number>;
}

/** One message's record and duplicate answer, for writeMany. */
export interface RecordWrite {
  dk: Buffer;
  rec: TransactionObject | null;
  answer: Buffer | null;
  nowMs: number;
  indexRrn: boolean;
  /**
   * The record bytes the message's hold carried (approvalRecord's first value), which this write
   * replaces, with its cached answer, if they are what is stored: a stand-in answer after the hold
   * may have landed, approved, after the deadline. A record stored by anything else (the first
   * answer to a repeated message) is left as it is. Absent: a record is written once.
   */
  replaces?: string;
}


/**
 * What a field 90 can name of a transaction id (iso/wire.ts transactionId: card, MTI
 * class, field 7, STAN, acquirer, terminal): the id without its terminal part.
 */
export function originalIdentity(txId: string): string {
  return txId.slice(0, txId.lastIndexOf('.'));
}

/** The duplicate key of a message as an HMAC (no PAN in Redis keys): base64url of 18 bytes. */
export function duplicateKey(hmacKey: Buffer, mtiClass: string, pan: string, stan: string, f7: string, acquirer: string, terminal: string): Buffer {
  return createHmac('sha256', hmacKey).update(`${mtiClass}|${pan}|${stan}|${f7}|${acquirer}|${terminal}`).digest().subarray(0, 18);
}

/**
 * The duplicate key of a money message (its MTI class, its PAN — field 2, or its track's —, fields
 * 11, 7, 32 and 41), or null when field 11 or 7 is absent: the one place a message's duplicate key
 * is formed.
 */
export function messageDuplicateKey(hmacKey: Buffer, mti: string, f: IsoFields, pan: string | undefined): Buffer | null {
  const stan = text(f, 11);
  const f7 = text(f, 7);
  if (stan === undefined || f7 === undefined) return null;
  return duplicateKey(hmacKey, mtiClass(mti), pan ?? '', stan, f7, acquirer11(text(f, 32)), text(f, 41) ?? '');
}

/** 16 bytes of the duplicate key as a version-4-shaped UUID. */
export function recordIdOf(dk: Buffer): string {
  return uuidFromHash(dk);
}

export class TransactionRecords {
  private readonly cmd: RecordCommands;
  private readonly groups: number;

  /**
   * `archive`: the history database's records, so that get() and list() answer for records that
   * have left Redis; without it they answer from Redis alone (the last REDIS_RETENTION, and
   * whatever the copier has not copied yet).
   */
  constructor(private readonly redis: Redis | Cluster, private readonly ledger: Ledger, private readonly archive: ArchivedRecords | null = null) {
    // Eight keys per record: the key count varies with the batch (`-n`), so the count goes first.
    defineSwitchScripts(redis, 'record-');
    this.cmd = redis as unknown as RecordCommands;
    this.groups = ledger.keys.groups;
  }


  /** The Redis key of a message's duplicate-answer entry (a hold's guard checks it is absent). */
  duplicateAnswerKey(dk: Buffer): string {
    return this.dupKey(dk);
  }

  /** Group of the duplicate cache entry of a key: computable from the wire alone, before the card is known. */
  private dupKey(dk: Buffer): string {
    return StoreKeys.duplicateAnswer(this.dupGroup(dk), dk.toString('base64url'));
  }

  private dupGroup(dk: Buffer): number {
    return this.groups === 1 ? 0 : dk[0]! % this.groups;
  }

  /**
   * The first answers (framed bytes) to messages with these duplicate keys, null where none: one
   * MGET per slot group, so a batch's lookups cost one call.
   */
  async cachedAnswers(dks: ReadonlyArray<Buffer | null>): Promise<Array<Buffer | null>> {
    const out: Array<Buffer | null> = new Array(dks.length).fill(null);
    const byGroup = new Map<string, { keys: string[]; at: number[] }>();
    dks.forEach((dk, i) => {
      if (dk === null) return;
      const key = this.dupKey(dk);
      const tag = key.slice(0, key.indexOf('}') + 1);
      let g = byGroup.get(tag);
      if (g === undefined) { g = { keys: [], at: [] }; byGroup.set(tag, g); }
      g.keys.push(key);
      g.at.push(i);
    });
    await Promise.all([...byGroup.values()].map(async (g) => {
      const vals = await (this.redis as Redis).mgetBuffer(...g.keys);
      vals.forEach((v, j) => { out[g.at[j]!] = v; });
    }));
    return out;
  }

  private queued: RecordWrite[] = [];
  private queuedDone: Array<{ resolve(): void; reject(err: unknown): void }> = [];
  private flushScheduled = false;
  private readonly flushQueued = (): void => {
    this.flushScheduled = false;
    const items = this.queued;
    const done = this.queuedDone;
    this.queued = [];
    this.queuedDone = [];
    this.writeMany(items).then(() => { for (const d of done) d.resolve(); }, (err: unknown) => { for (const d of done) d.reject(err); });
  };

  /**
   * Records and duplicate answers of a decided batch, written together with those of every batch
   * that finishes in the same turn of the event loop (setImmediate): under load the records cost
   * one Redis write per turn, not one per batch. Resolves once they are written (durable, with
   * AOF fsync always), so the batch's answers can leave; rejects when the shared write failed. At
   * most RECORDS_QUEUED_MAX wait: past that a write leaves at once.
   */
  queue(items: readonly RecordWrite[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      for (const it of items) this.queued.push(it);
      this.queuedDone.push({ resolve, reject });
      if (this.queued.length >= RECORDS_QUEUED_MAX) { this.flushQueued(); return; }
      if (!this.flushScheduled) {
        this.flushScheduled = true;
        setImmediate(this.flushQueued);
      }
    });
  }

  /** One message's record and duplicate answer (see writeMany). */
  write(dk: Buffer, rec: TransactionObject | null, answer: Buffer | null, nowMs: number, indexRrn = false): Promise<void> {
    return this.writeMany([{ dk, rec, answer, nowMs, indexRrn }]);
  }

  /**
   * Writes records (when given) and duplicate answers: one script call per slot group for the
   * whole batch. A record with `balanceId` null (a message for an unknown card) goes to group 0,
   * with no balance or card index. `indexRrn`: the record is an approved original that a reversal
   * or clearing may find by PAN + field 37. A duplicate answer in another slot than its record
   * (Redis Cluster) is a separate SET.
   */
  async writeMany(items: readonly RecordWrite[]): Promise<void> {
    const byGroup = new Map<number, { keys: string[]; args: (string | number | Buffer)[] }>();
    const calls: Promise<unknown>[] = [];
    for (const it of items) {
      const dupKey = this.dupKey(it.dk);
      const rec = it.rec;
      if (rec === null) {
        if (it.answer !== null) calls.push(this.redis.set(dupKey, it.answer, 'PX', this.ledger.windows.duplicateMs, 'NX'));
        continue;
      }
      const w = this.slots(it.dk, rec, it.answer, it.nowMs, it.indexRrn);
      let g = byGroup.get(w.group);
      if (g === undefined) { g = { keys: [], args: [] }; byGroup.set(w.group, g); }
      g.keys.push(...w.keys);
      g.args.push(...w.args, it.replaces ?? '');
      if (!w.sameSlot && it.answer !== null) calls.push(this.redis.set(dupKey, it.answer, 'PX', this.ledger.windows.duplicateMs, 'NX'));
    }
    for (const g of byGroup.values()) calls.push(this.cmd.recordWriteMany(g.keys.length, ...g.keys, ...g.args));
    await Promise.all(calls);
  }

  /**
   * An approval's record for the hold that approves it to write (HoldArgs.record): the keys and
   * values writeMany would write, in the record's slot group. `appendBalances`: the hold appends
   * the user balance after it to the cached answer (switch/process/replay.ts). Null when the
   * cached answer lives in another slot group than the record (Redis Cluster): then the record
   * is written after the answer, by writeMany.
   */
  approvalRecord(dk: Buffer, rec: TransactionObject, answer: Buffer, nowMs: number, appendBalances: boolean): ApprovalRecord | null {
    const w = this.slots(dk, rec, answer, nowMs, true);
    return w.sameSlot ? { keys: w.keys, args: w.args, appendBalances } : null;
  }

  /**
   * Forgets the record and cached answer of a message whose hold carried them (approvalRecord)
   * when its answer was not that approval (a 96: the hold's call failed, or its batch did, and the
   * hold is undone): a repeat is then decided again, as for any 96. The record's index entries
   * stay; a listing skips a record that is gone. The record log says it is forgotten (field f), in
   * the same transaction as the delete, so that the history database forgets it too. Compare-free:
   * call it only for such a message.
   */
  async forgetApproval(dk: Buffer, balanceId: string, recordId: string): Promise<void> {
    const gr = Math.max(0, this.ledger.keys.groupOfBalance(balanceId));
    const forget = this.redis.multi()
      .del(StoreKeys.record(gr, recordId))
      .xadd(StoreKeys.recordLog(gr), '*', 'i', recordId, 'f', '1')
      .exec()
      .then((res) => { const err = res?.find(([e]) => e !== null)?.[0]; if (err) throw err; });
    await Promise.all([forget, this.redis.del(this.dupKey(dk))]);
  }

  /** record-write.lua's eight keys and seven values for one record (a key equal to the record's own = none). */
  private slots(dk: Buffer, rec: TransactionObject, answer: Buffer | null, nowMs: number, indexRrn: boolean) {
    const gr = rec.balanceId === null ? 0 : Math.max(0, this.ledger.keys.groupOfBalance(rec.balanceId));
    const recKey = StoreKeys.record(gr, rec.id);
    const sameSlot = this.dupGroup(dk) === gr;
    const indexed = indexRrn && rec.cardId !== null && rec.externalTransactionId !== null;
    const rrn = indexed ? rec.transactionData.retrievalReferenceNumber : null;
    const identity = indexed ? originalIdentity(rec.externalTransactionId!) : null;
    const keys = [recKey,
      rec.balanceId === null ? recKey : StoreKeys.recordsOfBalance(gr, rec.balanceId),
      rec.cardId === null ? recKey : StoreKeys.recordsOfCard(gr, rec.cardId),
      rec.balanceId === null ? StoreKeys.recordsUnattributed(gr) : recKey,
      sameSlot && answer !== null ? this.dupKey(dk) : recKey,
      rrn !== null ? StoreKeys.originalsByRrn(gr, rec.cardId!, rrn) : recKey,
      identity !== null ? StoreKeys.originalsByIdentity(gr, identity) : recKey,
      StoreKeys.recordLog(gr)];
    const w = this.ledger.windows;
    const args: (string | number | Buffer)[] = [encodeRecord(rec), nowMs, rec.id, answer ?? '', w.duplicateMs, rec.externalTransactionId ?? '', w.referenceMs];
    return { group: gr, sameSlot, keys, args };
  }

  /**
   * The record of an internal transaction posted through the management API (TOPUP, FEE …).
   * Its id is derived from the balance and ledger transaction id, so a replayed request (same
   * idempotency key, same ledger transaction) names the same record.
   */
  async recordInternal(a: {
    balanceId: string; txId: string; type: string; category: 'DEBIT' | 'CREDIT'; amountMinor: number; currency: string;
    description: string; ok: boolean; reason: string; nowMs: number;
  }): Promise<TransactionObject> {
    const dk = createHash('sha256').update(`internal|${a.balanceId}|${a.txId}`).digest().subarray(0, 18);
    const rec: TransactionObject = {
      id: recordIdOf(dk), balanceId: a.balanceId, resourceId: a.balanceId, resource: 'balance', cardId: null,
      externalTransactionId: a.txId, referenceExternalTransactionId: null, type: a.type, category: a.category,
      amount: a.amountMinor, currency: a.currency, originalAmount: null, originalCurrency: null, status: 'CLEARED',
      description: a.description, date: new Date(a.nowMs).toISOString(), referenceExternalTransactionDate: null,
      transactionData: { mcc: null, merchantIdentifier: null, merchantName: null, merchantCity: null, captureMode: null, lastFourDigits: null, acquirerCountry: null, retrievalReferenceNumber: null },
      processingStatus: a.ok ? 'SUCCESS' : 'DECLINED', reason: a.reason, responseCode: '', mti: '', feeMinor: 0, fxFeeMinor: 0,
    };
    await this.write(dk, rec, null, a.nowMs);
    return (await this.get(rec.id)) ?? rec;
  }

  /** Ledger transaction ids of the card's approved originals with this field 37 (SPEC §2.3 fallback match). */
  async byRetrievalReference(balanceId: string, cardId: string, rrn: string): Promise<string[]> {
    const g = Math.max(0, this.ledger.keys.groupOfBalance(balanceId));
    return this.referenced(StoreKeys.originalsByRrn(g, cardId, rrn));
  }

  /**
   * Ledger transaction ids of the card's approved originals that a field 90 names, whatever their
   * field 41: `identity` is originalIdentity() of the id field 90 names (SPEC §2.3: a reversal
   * without field 41 matches an original from any terminal).
   */
  async byOriginalIdentity(balanceId: string, identity: string): Promise<string[]> {
    const g = Math.max(0, this.ledger.keys.groupOfBalance(balanceId));
    return this.referenced(StoreKeys.originalsByIdentity(g, identity));
  }

  /**
   * The ids a reference index names (record-write-many-n.lua): a newline-separated string, or a
   * set when the index was written before that layout. Not on the approval path.
   */
  private async referenced(key: string): Promise<string[]> {
    try {
      const ids = await this.redis.get(key);
      return ids === null ? [] : ids.split('\n');
    } catch (err) {
      if (!String((err as Error).message).startsWith('WRONGTYPE')) throw err;
      return this.redis.smembers(key);
    }
  }

  /** A record by id: from Redis while it is there, else from the history database (given one). */
  async get(id: string): Promise<TransactionObject | null> {
    if (!/^[0-9a-f-]{36}$/.test(id)) return null;
    for (let g = 0; g < this.groups; g++) {
      const json = await this.redis.get(StoreKeys.record(g, id));
      if (json !== null) return this.withLedgerStatus(decodeRecord(id, json), null);
    }
    const a = this.archive === null ? null : await this.archive.get(id);
    return a === null ? null : this.withLedgerStatus(decodeRecord(a.id, a.body), a.ledger);
  }

  /**
   * Records newest first, of a balance or a card (neither: those of messages for unknown cards, INVALID). The cursor is opaque
   * (`<time ms>.<record id>` of the last item returned). Redis's indexes hold the records of the
   * last REDIS_RETENTION and those not yet copied; the history database every record copied. Both
   * are read past the cursor (Redis first: a record copied and trimmed between the two reads is
   * found in the second), merged by id, Redis's copy first.
   */
  async list(q: { balanceId?: string; cardId?: string; limit: number; cursor?: string }): Promise<{ items: TransactionObject[]; next: string | null }> {
    const limit = Math.min(Math.max(1, Math.trunc(q.limit) || 1), RECORDS_PAGE_MAX);
    const after = parseCursor(q.cursor);
    const index: RecordIndex = q.balanceId !== undefined ? { balanceId: q.balanceId } : q.cardId !== undefined ? { cardId: q.cardId } : { unattributed: true };
    const hot = await this.hotPage(index, after, limit);
    const cold = this.archive === null ? [] : await this.archive.list(index, after, limit + 1);
    const merged = new Map<string, Listed>();
    for (const h of hot) merged.set(h.id, h);
    for (const c of cold) if (!merged.has(c.id)) merged.set(c.id, { id: c.id, score: c.timeMs, body: c.body, archived: c.ledger });
    const sorted = [...merged.values()].sort(newestFirst);
    const page = sorted.slice(0, limit);
    const items: TransactionObject[] = [];
    for (const e of page) items.push(await this.withLedgerStatus(decodeRecord(e.id, e.body), e.archived));
    const last = page[page.length - 1];
    return { items, next: sorted.length > limit && last !== undefined ? `${last.score}.${last.id}` : null };
  }

  /** Up to limit + 1 records of the index in Redis after the cursor, newest first; index entries whose record is gone are skipped. */
  private async hotPage(index: RecordIndex, after: { score: number; id: string } | null, limit: number): Promise<Listed[]> {
    const key = (g: number): string => ('balanceId' in index ? StoreKeys.recordsOfBalance(g, index.balanceId) : 'cardId' in index ? StoreKeys.recordsOfCard(g, index.cardId) : StoreKeys.recordsUnattributed(g));
    const groups = 'balanceId' in index ? [Math.max(0, this.ledger.keys.groupOfBalance(index.balanceId))] : [...Array(this.groups).keys()];
    const max = after === null ? '+inf' : String(after.score);
    // Ties on the same millisecond are read past, then skipped up to the cursor's id.
    const pages = await Promise.all(groups.map((g) =>
      this.redis.zrevrangebyscore(key(g), max, '-inf', 'WITHSCORES', 'LIMIT', 0, limit + 64).then((r) => ({ g, r }))));
    const merged: { g: number; id: string; score: number }[] = [];
    for (const { g, r } of pages) for (let i = 0; i < r.length; i += 2) merged.push({ g, id: r[i]!, score: Number(r[i + 1]) });
    merged.sort(newestFirst);
    const start = after === null ? 0 : merged.findIndex((e) => e.score < after.score || (e.score === after.score && e.id < after.id));
    const slice = start < 0 ? [] : merged.slice(start, start + limit + 1);
    const docs = await Promise.all(slice.map((e) => this.redis.get(StoreKeys.record(e.g, e.id))));
    const out: Listed[] = [];
    slice.forEach((e, k) => { const d = docs[k]; if (d !== null && d !== undefined) out.push({ id: e.id, score: e.score, body: d, archived: null }); });
    return out;
  }

  /**
   * A record of an approved original shows its ledger transaction's status now: an authorization
   * becomes CLEARED, REVERSED or EXPIRED, posted money REVERSED when reversed in full; a partial
   * reversal shows `reversedAmount` (SPEC §2.3). Reversals' and clearings' own records stay as written.
   * The state is the transaction hash's while Redis has it, else what the history database's
   * journal says (`archived`).
   */
  private async withLedgerStatus(rec: TransactionObject, archived: ArchivedRecord['ledger']): Promise<TransactionObject> {
    if (rec.processingStatus !== 'SUCCESS' || rec.balanceId === null || rec.externalTransactionId === null) return rec;
    if (rec.referenceExternalTransactionId !== null || (rec.status !== 'AUTHORIZED' && rec.status !== 'CLEARED')) return rec;
    const tx = await this.ledger.getTransaction(rec.balanceId, rec.externalTransactionId);
    const state = tx !== null ? { status: tx.status, reversedMinor: tx.reversedMinor } : archived;
    if (state === null) return rec;
    if (state.status === 'CLEARED' || state.status === 'REVERSED' || state.status === 'EXPIRED') rec.status = state.status;
    if (state.reversedMinor > 0 && state.status !== 'REVERSED') rec.reversedAmount = state.reversedMinor;
    return rec;
  }
}

/** A listed record before decoding: its id, index score, stored form, and archived ledger state (null: read it from Redis). */
interface Listed { id: string; score: number; body: string; archived: ArchivedRecord['ledger'] }

/** Newest first: score descending, then id descending (the cursor's order). */
function newestFirst(a: { score: number; id: string }, b: { score: number; id: string }): number {
  return b.score - a.score || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}

function parseCursor(c: string | undefined): { score: number; id: string } | null {
  if (c === undefined || c === '') return null;
  const dot = c.indexOf('.');
  const score = Number(c.slice(0, dot));
  if (dot < 1 || !Number.isSafeInteger(score)) return null;
  return { score, id: c.slice(dot + 1) };
}

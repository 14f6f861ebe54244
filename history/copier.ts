// The history copier: moves the ledger's journal and the switch's transaction records from Redis
// (hot state) to the history database, exactly once, and then lets them leave Redis.
//
// What it reads, per slot group: the ledger's journal stream `{gNN}:jnl` (every posting) and the
// record log `{gNN}:recs:log` (every record written, replaced or forgotten, appended by the same
// script that writes it). Both are read through one Redis consumer group, `history`, so each entry
// is delivered to one copier of the switches sharing the Redis, stays pending until acknowledged,
// and is taken over (XAUTOCLAIM) from a copier that died holding it.
//
// A cycle: read up to COPY_BATCH_MAX new entries of each stream (one XREADGROUP per group), write
// them to PostgreSQL in one statement (a journal entry is keyed by slot group and stream id, a
// record by id with the stream id as its version, so a replay writes nothing twice), then, once
// the database has committed, acknowledge and delete them from Redis and start their retention:
//   - journal entries leave Redis at once (XDEL);
//   - a transaction a journal entry finished (cleared, reversed, expired) has its hash expire
//     REDIS_RETENTION later (every later change renews it);
//   - a record copied expires REDIS_RETENTION later, and the index entries older than that are
//     trimmed from its balance's and card's indexes (each index also expires REDIS_RETENTION after
//     its last record, so an idle card's index goes too).
// When the database is down or slow the same entries are retried with backoff; authorization does
// not wait for any of this, and the backlog waits in Redis (bounded only by its memory) and drains
// when the database is back. A Redis restart loses nothing: entries, the consumer group and its
// acknowledgements are in the AOF.
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { StoreKeys, type Keyspace } from '../ledger/keys.js';
import type { HistoryWindows } from '../ledger/types.js';
import type { LogFn } from '../log/index.js';
import { loadScripts, projectRoot, scriptCall, type ScriptFn } from '../ledger/scripts.js';

/** The consumer group every copier reads through. */
export const CONSUMER_GROUP = 'history';
/** Entries read from one stream per cycle at most. */
export const COPY_BATCH_MAX = 2000;
/** Pause between cycles when the last one did not fill a batch: entries reach the database within about this (plus the copy). */
export const COPY_INTERVAL_MS = 200;
/** An entry pending this long with another copier is taken over: that copier is presumed dead. */
export const CLAIM_IDLE_MS = 10_000;
/** How often pending entries of dead copiers are looked for. */
const CLAIM_EVERY_MS = 5000;
/** Longest wait between two attempts while the database or Redis fails. */
const RETRY_BACKOFF_MAX_MS = 5000;
/** Consumers of the group that are not this one, hold nothing and were idle this long are removed. */
const CONSUMER_IDLE_REMOVE_MS = 3_600_000;
const CONSUMER_SWEEP_EVERY_MS = 60_000;
/** A failure is logged at most this often. */
const ERROR_LOG_INTERVAL_MS = 10_000;
/** On stop, how long the copier goes on draining what is already in the streams. */
const STOP_DRAIN_MS = 3000;

type Client = Redis | Cluster;

/** One journal entry as the history database keeps it. */
interface JournalRow { group: number; ms: number; seq: number; op: string; balanceId: string; txId: string; currency: string; postings: string; status: number | null; reversedMinor: number | null; increments: string[] }
/** One record log entry: a record written (body) or forgotten. */
interface RecordRow { group: number; ms: number; seq: number; id: string; timeMs: number; balanceId: string | null; cardId: string | null; txId: string | null; forgotten: boolean; body: string }

let settleScript: { lua: string; numberOfKeys: number | null } | undefined;

/** What acknowledging a batch does in one slot group (history-settle-n.lua's arguments). */
interface Settle { journalIds: string[]; logIds: string[]; expire: Set<string>; trim: string[] }

/** What a cycle read, per stream, with the ids to acknowledge. */
interface Batch {
  journal: JournalRow[];
  records: RecordRow[];
  /** stream key → ids read (to XACK and XDEL), with the stream's group. */
  ids: Map<string, { group: number; ids: string[] }>;
}

export interface Backlog {
  /** Entries in the streams not yet copied and deleted (journal entries and record log entries). */
  entries: number;
  /** Age of the oldest of them, seconds; 0 when there is none. */
  oldestAgeSeconds: number;
}

/**
 * What a copier reports, for its metrics: a batch committed (entries of each kind, the statement's
 * seconds, and each entry's delay from its write in Redis to the commit, seconds), a failed cycle.
 */
export interface CopierObserver {
  copied(journalEntries: number, records: number, batchSeconds: number, delaysSeconds: ArrayLike<number>): void;
  failed(): void;
}

export interface CopierOptions {
  redis: Client;
  keys: Keyspace;
  pool: pg.Pool;
  windows: HistoryWindows;
  log: LogFn;
  /** Where the copier's metrics go (copierMetrics below); with `registry` (and no observer), they are registered there. */
  observer?: CopierObserver;
  registry?: Registry;
  /** Pause between cycles that did not fill a batch; default COPY_INTERVAL_MS. */
  intervalMs?: number;
  /** Entries read from one stream per cycle at most; default COPY_BATCH_MAX (benchmarks vary it). */
  batchMax?: number;
  /** Clock (ms), for tests. */
  now?: () => number;
}

// Each column of a batch goes as one text parameter (column()): its values joined by RS (0x1e:
// never in an id, a number or a JSON text, which escapes control characters) after a first
// element that is dropped, so that an empty value survives; in a nullable column an empty value
// is null. Joining strings costs the copier next to nothing, where text[] parameters are escaped
// value by value; PostgreSQL splits them again (string_to_array) and unnest pairs the columns up.
const SEP = '\x1e';
const col = (n: number, type: string, nullable = true) => `(string_to_array($${n}, E'\\x1e'${nullable ? ", ''" : ''}))[2:]::${type}[]`;
const JOURNAL_SQL = `INSERT INTO history.journal_entries
  (slot_group, entry_ms, entry_seq, op, balance_id, tx_id, currency, postings, tx_status, tx_reversed_minor)
  SELECT * FROM unnest(${col(1, 'smallint')}, ${col(2, 'bigint')}, ${col(3, 'integer')}, ${col(4, 'text', false)}, ${col(5, 'text', false)}, ${col(6, 'text', false)},
    ${col(7, 'text', false)}, ${col(8, 'text', false)}, ${col(9, 'smallint')}, ${col(10, 'bigint')})
  ON CONFLICT DO NOTHING`;
const RECORDS_SQL = `INSERT INTO history.records AS r
  (id, version_ms, version_seq, time_ms, balance_id, card_id, tx_id, forgotten, body)
  SELECT * FROM unnest(${col(11, 'uuid')}, ${col(12, 'bigint')}, ${col(13, 'integer')}, ${col(14, 'bigint')}, ${col(15, 'text')}, ${col(16, 'text')},
    ${col(17, 'text')}, ${col(18, 'boolean')}, ${col(19, 'text', false)})
  ON CONFLICT (id) DO UPDATE SET version_ms = EXCLUDED.version_ms, version_seq = EXCLUDED.version_seq, forgotten = EXCLUDED.forgotten,
    time_ms = CASE WHEN EXCLUDED.forgotten THEN r.time_ms ELSE EXCLUDED.time_ms END,
    balance_id = CASE WHEN EXCLUDED.forgotten THEN r.balance_id ELSE EXCLUDED.balance_id END,
    card_id = CASE WHEN EXCLUDED.forgotten THEN r.card_id ELSE EXCLUDED.card_id END,
    tx_id = CASE WHEN EXCLUDED.forgotten THEN r.tx_id ELSE EXCLUDED.tx_id END,
    body = CASE WHEN EXCLUDED.forgotten THEN r.body ELSE EXCLUDED.body END
  WHERE (r.version_ms, r.version_seq) < (EXCLUDED.version_ms, EXCLUDED.version_seq)`;
/** Both in one statement: one round trip and one commit per batch. */
const COPY_SQL = `WITH j AS (${JOURNAL_SQL} RETURNING 1), r AS (${RECORDS_SQL} RETURNING 1) SELECT (SELECT count(*) FROM j) AS journal, (SELECT count(*) FROM r) AS records`;

export class HistoryCopier {
  /** This copier's name in the consumer group: host, pid and start time, unique per process. */
  readonly consumer = `${hostname()}:${process.pid}:${Date.now().toString(36)}`;
  private readonly streams: ReadonlyArray<{ group: number; journal: string; records: string }>;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly batchMax: number;
  private running = false;
  private loop: Promise<void> | null = null;
  private wake: (() => void) | null = null;
  /** Entries read whose copy failed: retried as they are before anything new is read. */
  private retry: Batch | null = null;
  private failures = 0;
  private nextClaimMs = 0;
  private nextConsumerSweepMs = 0;
  private lastErrorLogMs = 0;
  private groupsReady = false;
  /** Index key → when it was last trimmed (ms); insertion order is time order. */
  private readonly trimmed = new Map<string, number>();
  private readonly trimEveryMs: number;
  private up = true;
  private lastSuccessMs = 0;
  private readonly observer: CopierObserver | null;
  /** history/lua/history-settle-n.lua on the client. */
  private readonly settle: ScriptFn;

  constructor(private readonly o: CopierOptions) {
    this.streams = copiedStreams(o.keys);
    this.now = o.now ?? Date.now;
    this.intervalMs = o.intervalMs ?? COPY_INTERVAL_MS;
    this.batchMax = o.batchMax ?? COPY_BATCH_MAX;
    this.trimEveryMs = Math.min(60_000, Math.max(1000, Math.floor(o.windows.finishedMs / 2)));
    this.observer = o.observer ?? (o.registry === undefined ? null : copierMetrics(o.registry, () => this.backlog()));
    settleScript ??= loadScripts(join(projectRoot(), 'history', 'lua')).find((s) => s.name === 'history-settle')!;
    this.settle = scriptCall(o.redis, settleScript);
  }

  /** False from a failed copy until one succeeds: the history database is unreachable (or failing). Not a probe: a quiet copier keeps its last answer. */
  get databaseUp(): boolean { return this.up; }

  /** Starts copying in the background (a cycle at once, then every intervalMs, sooner while there is more). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  /**
   * Stops after the cycle in progress, draining what is already in the streams for up to 3 s. A
   * cycle still waiting on a slow database after that is left to finish on its own: what it had
   * read stays pending in Redis, for the next start.
   */
  async stop(): Promise<void> {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    let timer: NodeJS.Timeout | undefined;
    const finished = await Promise.race([
      this.loop!.then(() => true),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), STOP_DRAIN_MS); }),
    ]);
    clearTimeout(timer);
    if (!finished) return;
    const until = this.now() + STOP_DRAIN_MS;
    while (this.now() < until && this.up) {
      const n = await this.cycle().catch(() => 0);
      if (n === 0) break;
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      let n = 0;
      try {
        n = await this.cycle();
      } catch (err) {
        this.failed(err);
      }
      if (!this.running) break;
      const pause = this.failures > 0 ? Math.min(250 * 2 ** Math.min(this.failures, 10), RETRY_BACKOFF_MAX_MS) : n >= this.batchMax ? 0 : this.intervalMs;
      if (pause > 0) await new Promise<void>((r) => { const t = setTimeout(r, pause); this.wake = () => { clearTimeout(t); r(); }; });
      this.wake = null;
    }
  }

  /**
   * One cycle: the batch that failed last time, else what dead copiers left pending (every few
   * seconds) and what is new. Resolves with the number of entries copied. Throws when Redis or the
   * database fails (the batch is kept for the next cycle).
   */
  async cycle(): Promise<number> {
    if (!this.groupsReady) await this.ensureGroups();
    let batch = this.retry;
    if (batch === null) {
      batch = emptyBatch();
      if (this.now() >= this.nextClaimMs) {
        this.nextClaimMs = this.now() + CLAIM_EVERY_MS;
        await this.claimAbandoned(batch);
      }
      await this.readNew(batch);
      if (this.now() >= this.nextConsumerSweepMs) {
        this.nextConsumerSweepMs = this.now() + CONSUMER_SWEEP_EVERY_MS;
        await this.sweepConsumers().catch(() => undefined);
      }
    }
    const n = batch.journal.length + batch.records.length;
    if (batch.ids.size === 0) { this.failures = 0; return 0; }
    this.retry = batch;
    if (n > 0) {
      try {
        await this.copy(batch);
      } catch (err) {
        this.up = false;
        throw new DatabaseFailure(err);
      }
      if (!this.up) this.o.log('info', 'history database reachable again: copying the backlog');
      this.up = true;
      this.lastSuccessMs = this.now();
    }
    this.retry = null;
    await this.acknowledge(batch);
    this.failures = 0;
    return n;
  }

  private failed(err: unknown): void {
    const database = err instanceof DatabaseFailure;
    const msg = String(((database ? err.cause : err) as Error)?.message ?? err).slice(0, 200);
    if (/NOGROUP/.test(msg)) this.groupsReady = false;
    this.failures++;
    this.observer?.failed();
    const now = this.now();
    if (now - this.lastErrorLogMs >= ERROR_LOG_INTERVAL_MS) {
      this.lastErrorLogMs = now;
      this.o.log('warn', database ? 'history copy failed: retrying (authorization goes on; the backlog waits in Redis)' : 'history copier cannot read Redis: retrying', { error: msg });
    }
  }

  private async ensureGroups(): Promise<void> {
    await ensureConsumerGroups(this.o.redis, this.o.keys);
    this.groupsReady = true;
  }

  /** New entries of every group's two streams: one XREADGROUP per group (its streams share a slot). */
  private async readNew(batch: Batch): Promise<void> {
    const replies = await Promise.all(this.streams.map((s) => this.o.redis.xreadgroup(
      'GROUP', CONSUMER_GROUP, this.consumer, 'COUNT', this.batchMax, 'STREAMS', s.journal, s.records, '>', '>',
    ) as Promise<Array<[string, Array<[string, string[]]>]> | null>));
    replies.forEach((reply, i) => {
      const s = this.streams[i]!;
      for (const [key, entries] of reply ?? []) this.take(batch, s.group, key === s.journal, key, entries);
    });
  }

  /** Entries pending longer than CLAIM_IDLE_MS with any consumer (a copier that died) become this one's. */
  private async claimAbandoned(batch: Batch): Promise<void> {
    for (const s of this.streams) {
      for (const key of [s.journal, s.records]) {
        const r = await this.o.redis.xautoclaim(key, CONSUMER_GROUP, this.consumer, CLAIM_IDLE_MS, '0-0', 'COUNT', this.batchMax) as [string, Array<[string, string[]] | null>, string[]?];
        const live = (r[1] ?? []).filter((e): e is [string, string[]] => e !== null && Array.isArray(e[1]));
        this.take(batch, s.group, key === s.journal, key, live);
        // Entries deleted while pending come back as ids only (or null): nothing to copy, just acknowledge.
        const gone = [...(r[2] ?? []), ...(r[1] ?? []).filter((e): e is [string, string[]] => e !== null && !Array.isArray(e[1])).map((e) => e[0])];
        if (gone.length > 0) idsOf(batch, key, s.group).push(...gone);
      }
    }
  }

  private take(batch: Batch, group: number, isJournal: boolean, key: string, entries: Array<[string, string[]]>): void {
    if (entries.length === 0) return;
    const ids = idsOf(batch, key, group);
    for (const [id, fields] of entries) {
      ids.push(id);
      const dash = id.indexOf('-');
      const ms = Number(id.slice(0, dash));
      const seq = Number(id.slice(dash + 1));
      if (isJournal) batch.journal.push(journalRow(group, ms, seq, fields));
      else {
        const r = recordRow(group, ms, seq, fields);
        if (r !== null) batch.records.push(r);
      }
    }
  }

  /** One statement, one commit: the journal entries and the records (the newest version of each id). */
  private async copy(batch: Batch): Promise<void> {
    const started = process.hrtime.bigint();
    const j = batch.journal;
    const byId = new Map<string, RecordRow>();
    for (const r of batch.records) {
      const had = byId.get(r.id);
      if (had === undefined || had.ms < r.ms || (had.ms === r.ms && had.seq < r.seq)) byId.set(r.id, r);
    }
    const r = byId.size === batch.records.length ? batch.records : [...byId.values()];
    await this.o.pool.query({
      name: 'history-copy',
      text: COPY_SQL,
      values: [
        column(j, (x) => x.group), column(j, (x) => x.ms), column(j, (x) => x.seq), column(j, (x) => x.op), column(j, (x) => x.balanceId),
        column(j, (x) => x.txId), column(j, (x) => x.currency), column(j, (x) => x.postings), column(j, (x) => x.status), column(j, (x) => x.reversedMinor),
        column(r, (x) => x.id), column(r, (x) => x.ms), column(r, (x) => x.seq), column(r, (x) => x.timeMs), column(r, (x) => x.balanceId),
        column(r, (x) => x.cardId), column(r, (x) => x.txId), column(r, (x) => (x.forgotten ? 't' : 'f')), column(r, (x) => x.body),
      ],
    });
    const m = this.observer;
    if (m !== null) {
      const committed = this.now();
      const delays = new Array<number>(j.length + batch.records.length);
      let k = 0;
      for (const x of j) delays[k++] = Math.max(0, committed - x.ms) / 1000;
      for (const x of batch.records) delays[k++] = Math.max(0, committed - x.ms) / 1000;
      m.copied(j.length, batch.records.length, Number(process.hrtime.bigint() - started) / 1e9, delays);
    }
  }

  /**
   * The database has the batch: acknowledge and delete its entries, and start the retention of
   * what it copied (finished transactions' hashes, records, their index entries), with one call of
   * history/lua/history-settle-n.lua per slot group (its keys share the group's slot).
   */
  private async acknowledge(batch: Batch): Promise<void> {
    const retainMs = this.o.windows.finishedMs;
    const now = this.now();
    const work = new Map<number, Settle>();
    const of = (g: number): Settle => {
      let w = work.get(g);
      if (w === undefined) { w = { journalIds: [], logIds: [], expire: new Set(), trim: [] }; work.set(g, w); }
      return w;
    };
    for (const [key, { group, ids }] of batch.ids) {
      const w = of(group);
      if (key === this.streams[group]?.journal) w.journalIds = ids; else w.logIds = ids;
    }
    for (const e of batch.journal) {
      // Status 1 is AUTHORIZED: an open hold stays until it is finished.
      if (e.status === null || e.status === 1) continue;
      if (this.o.keys.groupOfBalance(e.balanceId) !== e.group) continue;
      const w = of(e.group);
      w.expire.add(this.o.keys.transaction(e.group, e.balanceId, e.txId));
      // Its incremental authorizations' hashes go with it (their money was held under it).
      for (const inc of e.increments) w.expire.add(this.o.keys.transaction(e.group, e.balanceId, inc));
    }
    for (const r of batch.records) {
      if (r.forgotten) continue;
      const w = of(r.group);
      w.expire.add(StoreKeys.record(r.group, r.id));
      const indexes = r.balanceId === null ? [StoreKeys.recordsUnattributed(r.group)]
        : r.cardId === null ? [StoreKeys.recordsOfBalance(r.group, r.balanceId)]
          : [StoreKeys.recordsOfBalance(r.group, r.balanceId), StoreKeys.recordsOfCard(r.group, r.cardId)];
      for (const k of indexes) {
        const last = this.trimmed.get(k);
        if (last !== undefined && now - last < this.trimEveryMs) continue;
        this.trimmed.delete(k);
        this.trimmed.set(k, now);
        w.trim.push(k);
      }
    }
    for (const [k, at] of this.trimmed) {
      if (now - at < this.trimEveryMs) break;
      this.trimmed.delete(k);
    }
    await Promise.all([...work].map(([g, w]) => {
      const s = this.streams[g]!;
      const expire = [...w.expire];
      return this.settle(2 + expire.length + w.trim.length, s.journal, s.records, ...expire, ...w.trim,
        CONSUMER_GROUP, retainMs, now - retainMs, retainMs + this.trimEveryMs, expire.length, w.journalIds.join(','), w.logIds.join(','));
    }));
  }

  /** Consumers that died long ago and hold nothing are forgotten by the group. */
  private async sweepConsumers(): Promise<void> {
    for (const s of this.streams) {
      for (const key of [s.journal, s.records]) {
        const list = await this.o.redis.xinfo('CONSUMERS', key, CONSUMER_GROUP) as Array<Array<string | number>>;
        for (const c of list) {
          const m = new Map<string, string | number>();
          for (let i = 0; i + 1 < c.length; i += 2) m.set(String(c[i]), c[i + 1]!);
          const name = String(m.get('name'));
          if (name !== this.consumer && Number(m.get('pending')) === 0 && Number(m.get('idle')) > CONSUMER_IDLE_REMOVE_MS) {
            await this.o.redis.xgroup('DELCONSUMER', key, CONSUMER_GROUP, name);
          }
        }
      }
    }
  }

  /** Entries waiting in the streams (not yet copied and deleted), and the age of the oldest. */
  backlog(): Promise<Backlog> {
    return streamBacklog(this.o.redis, this.o.keys, this.now());
  }

  /** When the last cycle succeeded (ms; 0 before the first). */
  get lastSuccessAtMs(): number { return this.lastSuccessMs; }
}

/** The two streams a copier reads in each slot group: the ledger's journal and the record log. */
function copiedStreams(keys: Keyspace): Array<{ group: number; journal: string; records: string }> {
  return Array.from({ length: keys.groups }, (_, g) => ({ group: g, journal: keys.journals[g]!, records: StoreKeys.recordLog(g) }));
}

/**
 * The consumer group `history` on every slot group's journal and record log (each stream created
 * empty if need be); one that exists is left as it is. Throws when Redis refuses.
 */
export async function ensureConsumerGroups(redis: Client, keys: Keyspace): Promise<void> {
  for (const s of copiedStreams(keys)) {
    for (const key of [s.journal, s.records]) {
      try {
        await redis.xgroup('CREATE', key, CONSUMER_GROUP, '0', 'MKSTREAM');
      } catch (err) {
        if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
      }
    }
  }
}

/**
 * What waits in the streams a copier reads (every slot group's journal and record log): entries
 * and the age of the oldest, at `nowMs`. Throws when Redis cannot be read.
 */
export async function streamBacklog(redis: Client, keys: Keyspace, nowMs: number): Promise<Backlog> {
  let entries = 0;
  let oldestMs = Infinity;
  await Promise.all(copiedStreams(keys).flatMap((s) => [s.journal, s.records]).map(async (key) => {
    const [len, first] = await Promise.all([redis.xlen(key), redis.xrange(key, '-', '+', 'COUNT', 1)]);
    entries += len;
    const id = first[0]?.[0];
    if (id !== undefined) oldestMs = Math.min(oldestMs, Number(id.slice(0, id.indexOf('-'))));
  }));
  return { entries, oldestAgeSeconds: oldestMs === Infinity ? 0 : Math.max(0, nowMs - oldestMs) / 1000 };
}

/** A copy the history database refused or did not answer (as opposed to Redis failing). */
class DatabaseFailure extends Error {
  constructor(override readonly cause: unknown) { super(String((cause as Error)?.message ?? cause)); }
}

function emptyBatch(): Batch {
  return { journal: [], records: [], ids: new Map() };
}

function idsOf(batch: Batch, key: string, group: number): string[] {
  let e = batch.ids.get(key);
  if (e === undefined) { e = { group, ids: [] }; batch.ids.set(key, e); }
  return e.ids;
}

/**
 * A journal entry's fields as the ledger writes them (ledger/lua/includes/common.lua journal):
 * o, b, x, c, p, then s, rv and ix when it has them; read by name when they come in another order.
 */
function journalRow(group: number, ms: number, seq: number, f: string[]): JournalRow {
  if (f[0] !== 'o' || f[2] !== 'b' || f[4] !== 'x' || f[6] !== 'c' || f[8] !== 'p' || (f.length > 10 && f[10] !== 's')) {
    const m: Record<string, string> = {};
    for (let i = 0; i + 1 < f.length; i += 2) m[f[i]!] = f[i + 1]!;
    return {
      group, ms, seq, op: m.o ?? '', balanceId: m.b ?? '', txId: m.x ?? '', currency: m.c ?? '', postings: m.p ?? '',
      status: m.s === undefined ? null : Number(m.s), reversedMinor: m.rv === undefined ? null : Number(m.rv),
      increments: m.ix === undefined || m.ix === '' ? [] : m.ix.split('|'),
    };
  }
  let reversedMinor: number | null = null;
  let increments: string[] = [];
  for (let i = 12; i + 1 < f.length; i += 2) {
    if (f[i] === 'rv') reversedMinor = Number(f[i + 1]);
    else if (f[i] === 'ix' && f[i + 1] !== '') increments = f[i + 1]!.split('|');
  }
  return {
    group, ms, seq, op: f[1]!, balanceId: f[3]!, txId: f[5]!, currency: f[7]!, postings: f[9]!,
    status: f.length > 11 ? Number(f[11]) : null, reversedMinor, increments,
  };
}

/**
 * A record log entry as a row: i, t, v for a record written (record-write.lua log_record), i, f for
 * one forgotten. Its balance, card and ledger transaction ids come from the record itself
 * (stores/record-codec.ts: the compact array's positions 1, 2 and 4, or the object's names).
 */
function recordRow(group: number, ms: number, seq: number, f: string[]): RecordRow | null {
  const m: Record<string, string> = {};
  for (let i = 0; i + 1 < f.length; i += 2) m[f[i]!] = f[i + 1]!;
  const id = m.i;
  if (id === undefined) return null;
  if (m.f === '1' || m.v === undefined) return { group, ms, seq, id, timeMs: 0, balanceId: null, cardId: null, txId: null, forgotten: true, body: '' };
  const ids = leadingIds(m.v);
  return { group, ms, seq, id, timeMs: Number(m.t ?? ms), balanceId: ids[0], cardId: ids[1], txId: ids[2], forgotten: false, body: m.v };
}

/**
 * Balance id, card id and ledger transaction id of a stored record: read off the front of the
 * compact array (`[1,"<balance>"|null,"<card>"|null,"<resource>","<txId>"|null,...`) without
 * parsing the rest, which is most of it; a record in another form is parsed whole.
 */
export function leadingIds(body: string): [string | null, string | null, string | null] {
  if (body.startsWith('[1,')) {
    const out: Array<string | null> = [];
    let i = 3;
    for (let n = 0; n < 4; n++) {
      if (body.startsWith('null,', i)) { out.push(null); i += 5; continue; }
      if (body.charCodeAt(i) !== 34 /* " */) { out.length = 0; break; }
      const end = body.indexOf('"', i + 1);
      const v = body.slice(i + 1, end);
      if (end < 0 || v.includes('\\') || body.charCodeAt(end + 1) !== 44 /* , */) { out.length = 0; break; }
      out.push(v);
      i = end + 2;
    }
    if (out.length === 4) return [out[0]!, out[1]!, out[3]!];
  }
  try {
    const v = JSON.parse(body) as unknown;
    if (Array.isArray(v)) return [(v[1] as string | null) ?? null, (v[2] as string | null) ?? null, (v[4] as string | null) ?? null];
    if (v !== null && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      return [(o.balanceId as string | null) ?? null, (o.cardId as string | null) ?? null, (o.externalTransactionId as string | null) ?? null];
    }
  } catch { /* kept as it is: listed by nothing, found by id */ }
  return [null, null, null];
}

/** A column of a batch as one parameter (see SEP): a first element that is dropped, then the values; null is empty. */
function column<T>(rows: readonly T[], value: (row: T) => string | number | null): string {
  let s = '-';
  for (const r of rows) {
    const v = value(r);
    s += SEP + (v === null ? '' : v);
  }
  return s;
}

/**
 * The copier's metrics in `registry`: rows copied by kind, the copy
 * delay and batch time histograms, failed cycles, and the backlog gauges (read from `backlog` at
 * scrape time, at most every 500 ms); docs/ledger.md lists them.
 */
export function copierMetrics(registry: Registry, backlog: () => Promise<Backlog>): CopierObserver {
  let cached: { at: number; b: Promise<Backlog> } | null = null;
  const sample = () => {
    const now = Date.now();
    if (cached === null || now - cached.at > 500) cached = { at: now, b: backlog() };
    return cached.b;
  };
  new Gauge({
    name: 'switch_history_backlog_entries', help: 'Journal and record log entries in Redis not yet copied to the history database', registers: [registry],
    async collect() { try { this.set((await sample()).entries); } catch { /* Redis down: last value */ } },
  });
  new Gauge({
    name: 'switch_history_backlog_oldest_age_seconds', help: 'Age of the oldest entry not yet copied to the history database (0: none)', registers: [registry],
    async collect() { try { this.set((await sample()).oldestAgeSeconds); } catch { /* Redis down: last value */ } },
  });
  const m = {
    copied: new Counter({ name: 'switch_history_copied_total', help: 'Entries copied to the history database, by kind: journal_entry (the postings of one ledger operation) or record (a transaction record written, replaced or forgotten)', labelNames: ['kind'] as const, registers: [registry] }),
    delay: new Histogram({ name: 'switch_history_copy_delay_seconds', help: 'Time from an entry\'s write in Redis to its commit in the history database', buckets: [0.05, 0.1, 0.25, 0.5, 0.75, 1, 2, 5, 10, 30, 60, 300], registers: [registry] }),
    batchSeconds: new Histogram({ name: 'switch_history_copy_batch_seconds', help: 'Time of one copy statement (a batch) in the history database', buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5], registers: [registry] }),
    failures: new Counter({ name: 'switch_history_copy_failures_total', help: 'Copy cycles that failed (history database or Redis unreachable); the entries are retried', registers: [registry] }),
  };
  return {
    copied(journalEntries, records, batchSeconds, delaysSeconds) {
      m.batchSeconds.observe(batchSeconds);
      m.copied.labels('journal_entry').inc(journalEntries);
      m.copied.labels('record').inc(records);
      for (let i = 0; i < delaysSeconds.length; i++) m.delay.observe(delaysSeconds[i]!);
    },
    failed() { m.failures.inc(); },
  };
}

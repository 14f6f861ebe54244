// The history database of one switch process: where it is (a managed PostgreSQL, or DATABASE_URL),
// its schema (history/migrations), the copier that fills it from Redis, the reads that answer from
// it, and its health. docs/ledger.md, "Hot state and history", says what lives where and for how long.
import type { Cluster, Redis } from 'ioredis';
import type pg from 'pg';
import type { Registry } from 'prom-client';
import type { Ledger } from '../ledger/index.js';
import type { LogFn } from '../log/index.js';
import { hasCode } from '../errors/index.js';
import { Keyspace } from '../ledger/keys.js';
import { HistoryCopier, ensureConsumerGroups, type Backlog } from './copier.js';
import { ThreadedCopier, type Copier } from './copier-thread.js';
import type { RedisTarget } from '../stores/redis.js';
import { connectionLostLog, historyPool, redactUrl } from './db.js';
import { migrate } from './migrate.js';
import { startSupervisedPostgres, type SupervisedPostgres } from './pg-server.js';
import { HistoryReads } from './reads.js';

export { HistoryCopier, type Backlog } from './copier.js';
export { ThreadedCopier, type Copier } from './copier-thread.js';
export { HistoryReads } from './reads.js';
export { historyPool, redactUrl, type HistoryTarget } from './db.js';
export { migrate, loadMigrations, schemaVersion } from './migrate.js';
export { startManagedPostgres, startSupervisedPostgres, managedPostgresUrl, hasManagedCluster, postgresBinDir, defaultPgDir, type ManagedPostgres, type SupervisedPostgres, type PgConnection } from './pg-server.js';

/** How long a health probe of the database may take before it counts as down. */
const PROBE_TIMEOUT_MS = 1000;
/** How often the history's health (a probe of the database, the backlog) is measured in the background; /health answers the latest at once. */
const HEALTH_EVERY_MS = 1000;
/** How long a stop waits for the pool's connections to close. */
const POOL_END_WAIT_MS = 2000;
/** While the schema cannot be applied (database unreachable at start), it is tried again this often. */
const MIGRATE_RETRY_MS = 5000;

export interface HistoryOptions {
  /** DATABASE_URL: an existing PostgreSQL; null: a managed one is started in `pgDir`. */
  databaseUrl: string | null;
  /** PG_DIR: the managed PostgreSQL's directory. */
  pgDir: string;
  redis: Redis | Cluster;
  /**
   * How the copier's own thread reaches the same Redis (history/copier-thread.ts): the switch's
   * way. Absent: the copier runs on this thread with `redis` (tools, benchmarks of the copier).
   */
  copierRedis?: RedisTarget;
  ledger: Ledger;
  log: LogFn;
  registry?: Registry;
  /** HISTORY_BACKLOG_MAX_AGE: beyond this age of the oldest entry not yet copied, health is not ok. */
  backlogMaxAgeMs: number;
  /** The managed server in a process group of its own (npm start: a Ctrl-C reaches the switch first). */
  detached?: boolean;
  /** A managed server already starting (startSupervisedPostgres, begun alongside Redis to save start-up time); absent: started here. */
  server?: Promise<SupervisedPostgres> | null;
}

/** What GET /health says of the history database. */
export interface HistoryHealth {
  ok: boolean;
  /** up: reachable and keeping up; down: unreachable; behind: reachable, backlog beyond its bound. */
  state: 'up' | 'down' | 'behind';
  backlog: Backlog | null;
}

export interface History {
  pool: pg.Pool;
  reads: HistoryReads;
  copier: Copier;
  /** The managed PostgreSQL, or null with DATABASE_URL. */
  managed: SupervisedPostgres | null;
  /** Where it is, for the start-up line (no password). */
  where: string;
  health(): Promise<HistoryHealth>;
  /** Stops the copier (draining for a moment), closes the pool, stops a managed server. */
  stop(): Promise<void>;
}

/**
 * Opens the history database and starts copying: a managed PostgreSQL unless `databaseUrl` names
 * one, the schema migrated (retried in the background while the database cannot be reached; the
 * copier starts once it is), the copier in a thread of its own (`copierRedis`) or on this one. Errors: those of startManagedPostgres,
 * and AppError SW_ERR_HISTORY_SCHEMA (a newer schema, a failed migration).
 */
export async function openHistory(o: HistoryOptions): Promise<History> {
  let managed: SupervisedPostgres | null = null;
  if (o.databaseUrl === null) {
    managed = await (o.server ?? startSupervisedPostgres({ dir: o.pgDir, detached: o.detached ?? false, log: o.log }));
    o.log('info', 'managed postgres started', { dir: o.pgDir, pid: managed.pid });
  }
  const where = managed === null ? redactUrl(o.databaseUrl!) : `managed postgres in ${o.pgDir}`;
  const target = managed === null ? { url: o.databaseUrl! } : { connection: managed.connection };
  const pool = historyPool(target, connectionLostLog(o.log));
  const registry = o.registry === undefined ? {} : { registry: o.registry };
  const copier: Copier = o.copierRedis === undefined
    ? new HistoryCopier({ redis: o.redis, keys: o.ledger.keys, pool, windows: o.ledger.windows, log: o.log, ...registry })
    : new ThreadedCopier({ redis: o.copierRedis, database: target, groups: o.ledger.keys.groups, windows: o.ledger.windows, client: o.redis, keys: o.ledger.keys, log: o.log, ...registry });
  let stopped = false;
  let retryTimer: NodeJS.Timeout | null = null;
  const migrated = async (): Promise<boolean> => {
    try {
      const applied = await migrate(pool);
      if (applied.length > 0) o.log('info', 'history database schema migrated', { applied, where });
      await pairWithLedger(pool, o.redis, o.log, where);
      // Before the copier's thread is up: from here on, every entry written waits for it.
      await ensureConsumerGroups(o.redis, o.ledger.keys);
      return true;
    } catch (err) {
      if (hasCode(err, 'SW_ERR_HISTORY_SCHEMA')) throw err;
      o.log('warn', 'history database unreachable: authorization goes on, history waits in Redis until it is back', { where, error: String((err as Error).message).slice(0, 200) });
      return false;
    }
  };
  const retry = (): void => {
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (stopped) return;
      migrated().then((ok) => { if (ok) copier.start(); else retry(); }, (err: Error) => o.log('error', err.message));
    }, MIGRATE_RETRY_MS);
    retryTimer.unref();
  };
  try {
    if (await migrated()) copier.start(); else retry();
  } catch (err) {
    await pool.end().catch(() => {});
    await managed?.stop();
    throw err;
  }
  // Measured in the background, so that /health answers at once whatever the database does.
  const measure = async (): Promise<HistoryHealth> => {
    const up = managed?.up !== false && await probeDatabase(pool);
    const backlog = await copier.backlog().catch(() => null);
    const behind = backlog !== null && backlog.oldestAgeSeconds * 1000 > o.backlogMaxAgeMs;
    const state = !up ? 'down' : behind ? 'behind' : 'up';
    return { ok: state === 'up', state, backlog };
  };
  let latest: HistoryHealth | null = null;
  let measuring: Promise<HistoryHealth> | null = null;
  const refresh = (): Promise<HistoryHealth> => {
    measuring ??= measure().then((h) => { latest = h; return h; }).finally(() => { measuring = null; });
    return measuring;
  };
  const healthTimer = setInterval(() => { void refresh(); }, HEALTH_EVERY_MS);
  healthTimer.unref();
  return {
    pool, reads: new HistoryReads(pool), copier, managed, where,
    health: () => (latest === null ? refresh() : Promise.resolve(latest)),
    async stop() {
      stopped = true;
      clearInterval(healthTimer);
      await measuring?.catch(() => null);
      if (retryTimer !== null) clearTimeout(retryTimer);
      await copier.stop();
      // A statement still running on a database that hangs is not waited for past a moment.
      await Promise.race([pool.end().catch(() => {}), new Promise((r) => setTimeout(r, POOL_END_WAIT_MS).unref())]);
      await managed?.stop();
    },
  };
}

/**
 * The ledger in Redis names the history database it is copied to (its database id, in the
 * ledger's meta hash), so that `npm run ledger:check` reads the right one. A ledger that named
 * another is said so in a warning: its history so far is in that database.
 */
async function pairWithLedger(pool: pg.Pool, redis: Redis | Cluster, log: LogFn, where: string): Promise<void> {
  const id = await historyDatabaseId(pool);
  const before = await redis.hget(Keyspace.metaKey(), HISTORY_DATABASE_FIELD);
  if (before === id) return;
  if (before !== null) log('warn', 'this ledger was copied to another history database until now: its earlier history is there, and a ledger check reads this one', { where, before, now: id });
  await redis.hset(Keyspace.metaKey(), HISTORY_DATABASE_FIELD, id);
}

/** The ledger meta hash's field naming the history database (history.settings database_id). */
export const HISTORY_DATABASE_FIELD = 'hdb';

/** The history database's id (history.settings); '' for a database without the schema. Throws when it cannot be read. */
export async function historyDatabaseId(pool: pg.Pool): Promise<string> {
  try {
    const r = await pool.query<{ value: string }>(`SELECT value FROM history.settings WHERE name = 'database_id'`);
    return r.rows[0]?.value ?? '';
  } catch (err) {
    // 3F000 no such schema, 42P01 no such table: not a history database (yet).
    if ((err as { code?: string }).code === '42P01' || (err as { code?: string }).code === '3F000') return '';
    throw err;
  }
}

/** True when the database answers a trivial query within PROBE_TIMEOUT_MS. */
async function probeDatabase(pool: pg.Pool): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      pool.query('SELECT 1').then(() => true, () => false),
      new Promise<boolean>((r) => { timer = setTimeout(() => r(false), PROBE_TIMEOUT_MS); }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

// Process configuration from the environment (SPEC §1). Every option and its default is listed
// once here and in docs/configuration.md; a bad value stops start-up with one line, no stack trace.
import type { TlsPaths } from '../switch/net/transport.js';
import { availableParallelism } from 'node:os';
import { AppError } from '../errors/index.js';
import { LOG_LEVELS, LOG_LEVEL_DEFAULT, type LogLevel } from '../log/index.js';
import { defaultPgDir } from '../history/pg-server.js';

export interface SwitchConfig {
  isoHost: string;             // ISO_HOST, default 127.0.0.1
  isoPort: number;             // ISO_PORT, default 8583
  httpHost: string;            // HTTP_HOST, default 127.0.0.1
  httpPort: number;            // HTTP_PORT, default 8080
  httpServer: 'auto' | 'uws' | 'node'; // HTTP_SERVER, default auto: uWebSockets.js when its binary loads, else node:http
  /** HTTP_TLS_CERT, HTTP_TLS_KEY, HTTP_TLS_CA: all three or none; with them HTTPS and mTLS on /secure. */
  httpTls: TlsPaths | null;
  /** API_KEYS_FILE: named API keys with a read or write scope (api/auth.ts); null: no key needed. Read at start-up. */
  apiKeysFile: string | null;
  /** ISO_TLS_CERT, ISO_TLS_KEY, ISO_TLS_CA: all three or none; with them the ISO link is TLS with required client certificates (SPEC §1). */
  isoTls: TlsPaths | null;
  redisUrl: string | null;     // REDIS_URL; unset: a private redis-server is started
  redisCluster: string | null; // REDIS_CLUSTER, comma-separated host:port seed list
  redisDir: string;            // REDIS_DIR, default ./var/redis (managed Redis only)
  redisAppendfsync: 'always' | 'everysec' | 'no' | 'off'; // REDIS_APPENDFSYNC, default always
  programsFile: string | null; // PROGRAMS_FILE
  /** KEYS_FILE: card keys per program (cardauth/keys.ts); unset: a development key set under ./var (keys.json). */
  keysFile: string | null;
  /** ENCRYPTION_KEY_FILE: the RSA private key (PEM) encrypted requests are made to; unset: a development key under ./var (encryption-key.pem). */
  encryptionKeyFile: string | null;
  dialect: '1987' | '2003';    // ISO_DIALECT, default 1987
  workers: number;             // WORKERS, default 2 (piscina threads)
  batchMax: number;            // BATCH_MAX, default 64 frames per worker task
  maxConnections: number;      // MAX_CONNECTIONS, default 256
  maxInflightPerConnection: number; // MAX_INFLIGHT_PER_CONNECTION, default 256: reading pauses above it
  /**
   * MAX_INFLIGHT_TOTAL, default 1024: all connections pause above it. Admission is bounded by what
   * can be decided within the budget (SPEC §2.5): 1,024 requests are about 0.3 s of work at the
   * 3,000-5,000 answers/s measured here, far under the 2 s default budgetMs, so a burst waits on
   * the socket and never ages inside the switch into a 91.
   */
  maxInflightTotal: number;
  shutdownTimeoutMs: number;   // SHUTDOWN_TIMEOUT_MS, default 10000
  /**
   * PLACEMENT, default auto: where batches are decided and Redis is called. auto = `main` on a
   * machine with 2 cores or fewer (measured there: lower p99 and about 35% less CPU per answer than
   * the worker hop, see docs/architecture.md), `workers` above.
   */
  placement: 'workers' | 'main';
  workerAtomics: 'sync' | 'async' | 'disabled'; // WORKER_ATOMICS, default disabled (see docs/architecture.md)
  holdCoalescing: boolean; // HOLD_COALESCING on|off, default on: a batch's holds as one script call per slot group
  cardCache: boolean; // CARD_CACHE on|off, default on: debits of a card already read decided in one round trip (guarded hold)
  workerConcurrency: number;   // WORKER_CONCURRENCY, default 64: batches one worker runs at once
  sweepIntervalMs: number;     // SWEEP_INTERVAL_MS, default 30000: how often expired holds are released
  outboxBackoffBaseMs: number; // OUTBOX_BACKOFF_BASE_MS, default 1000: the partner-call outbox's first retry delay bound
  outboxBackoffCapMs: number;  // OUTBOX_BACKOFF_CAP_MS, default 300000: the longest retry delay bound (at least the base)
  lowBalanceCheckMs: number;   // LOW_BALANCE_CHECK_MS, default 1000: how often partner balances are compared with their programs' lowBalanceMinor
  /**
   * SANDBOX 0|1: the /sandbox/simulate/* routes send real messages to this switch's own listener
   * (plain TCP only). Default: on for the development setup (plain HTTP on a loopback address, no
   * SWITCH_SECRET, no ISO_TLS_*), off otherwise.
   */
  sandbox: boolean;
  /** Why the sandbox is on or off, for the start-up line. */
  sandboxWhy: string;
  /**
   * SANDBOX=1 was set explicitly (not the development default): only then does the card data API
   * give a physical card's track-2 image to a test harness.
   */
  sandboxExplicit: boolean;
  /** LOG_LEVEL, default info: fatal, error, warn, info, debug (adds a line per decided message), trace or silent. */
  logLevel: LogLevel;
  /** DATABASE_URL: an existing PostgreSQL for the history; null: a private one is started in pgDir. */
  databaseUrl: string | null;
  /** PG_DIR, default ./var/pg (./var/pg-<hash of the address> with REDIS_URL or REDIS_CLUSTER): the managed PostgreSQL's directory (DATABASE_URL unset). */
  pgDir: string;
  /** REDIS_RETENTION, default 72h: a finished transaction's hash and its records stay in Redis this long once copied to history. */
  redisRetentionMs: number;
  /** DUPLICATE_WINDOW, default 48h: a repeat within it gets the first answer byte for byte (ISO 8583 duplicates). */
  duplicateWindowMs: number;
  /** REFERENCE_RETENTION, default 45d: what a reversal or clearing finds its original by stays this long. */
  referenceRetentionMs: number;
  /** HISTORY_BACKLOG_MAX_AGE, default 60s: /health answers 503 when the oldest entry not yet copied to history is older. */
  historyBacklogMaxAgeMs: number;
  /** HISTORY_COPIER, default thread: the history copier in a thread of its own (`thread`) or on the main thread (`main`). */
  historyCopier: 'thread' | 'main';
}

export type { TlsPaths };

type Env = Record<string, string | undefined>;

function int(env: Env, name: string, dflt: number, min: number, max: number): number {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new AppError('SW_ERR_CONFIG', `${name}=${v} is not an integer between ${min} and ${max}`);
  return n;
}

const DURATION_UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * A duration setting ("72h", "45d", "5s", "1500ms", "10m") in ms: a positive integer and one unit
 * of ms, s, m, h, d. Every retention window of the switch is read through it. Returns null for
 * anything else.
 */
export function parseDuration(text: string): number | null {
  const m = /^(\d{1,12})(ms|s|m|h|d)$/.exec(text.trim());
  if (m === null) return null;
  const ms = Number(m[1]) * DURATION_UNITS_MS[m[2]!]!;
  return ms > 0 && Number.isSafeInteger(ms) ? ms : null;
}

function duration(env: Env, name: string, dflt: string, minMs: number): number {
  const v = env[name];
  const ms = parseDuration(v === undefined || v === '' ? dflt : v);
  if (ms === null || ms < minMs) throw new AppError('SW_ERR_CONFIG', `${name}=${v} is not a duration of at least ${minMs} ms (a whole number and a unit: ms, s, m, h or d, e.g. ${dflt})`);
  return ms;
}

function oneOf<T extends string>(env: Env, name: string, dflt: T, allowed: readonly T[]): T {
  const v = env[name];
  if (v === undefined || v === '') return dflt;
  if (!(allowed as readonly string[]).includes(v)) throw new AppError('SW_ERR_CONFIG', `${name}=${v} must be one of ${allowed.join(', ')}`);
  return v as T;
}

/**
 * `<prefix>_TLS_CERT`, `_KEY`, `_CA`: all three set or none (null). One or two set is an SW_ERR_CONFIG error
 * naming the missing ones; the files are read at start-up (switch/net/transport.ts), not here.
 */
function tlsFiles(env: Env, prefix: 'HTTP' | 'ISO'): TlsPaths | null {
  const names = [`${prefix}_TLS_CERT`, `${prefix}_TLS_KEY`, `${prefix}_TLS_CA`] as const;
  const [cert, key, ca] = names.map((n) => env[n] || '') as [string, string, string];
  const missing = names.filter((n) => !env[n]);
  if (missing.length === 3) return null;
  if (missing.length > 0) throw new AppError('SW_ERR_CONFIG', `${names.join(', ').replace(/, ([^,]+)$/, ' and $1')} go together: set all three or none (missing: ${missing.join(', ')})`);
  return { cert, key, ca };
}

/** `auto`: the main thread decides on a 2-core machine (the worker hop does not fit there), piscina workers above. */
function placementOf(p: 'auto' | 'workers' | 'main'): 'workers' | 'main' {
  if (p !== 'auto') return p;
  return availableParallelism() <= 2 ? 'main' : 'workers';
}

export function loadConfig(env: Env = process.env): SwitchConfig {
  const httpHost = env.HTTP_HOST || '127.0.0.1';
  const httpTls = tlsFiles(env, 'HTTP');
  const apiKeysFile = env.API_KEYS_FILE || null;
  protectedApi(httpHost, httpTls, apiKeysFile);
  return {
    isoHost: env.ISO_HOST || '127.0.0.1',
    isoPort: int(env, 'ISO_PORT', 8583, 0, 65535),
    httpHost,
    httpPort: int(env, 'HTTP_PORT', 8080, 0, 65535),
    httpServer: oneOf(env, 'HTTP_SERVER', 'auto', ['auto', 'uws', 'node'] as const),
    httpTls,
    apiKeysFile,
    isoTls: tlsFiles(env, 'ISO'),
    redisUrl: env.REDIS_URL || null,
    redisCluster: env.REDIS_CLUSTER || null,
    redisDir: env.REDIS_DIR || 'var/redis',
    redisAppendfsync: oneOf(env, 'REDIS_APPENDFSYNC', 'always', ['always', 'everysec', 'no', 'off'] as const),
    programsFile: env.PROGRAMS_FILE || null,
    keysFile: env.KEYS_FILE || null,
    encryptionKeyFile: env.ENCRYPTION_KEY_FILE || null,
    dialect: oneOf(env, 'ISO_DIALECT', '1987', ['1987', '2003'] as const),
    workers: int(env, 'WORKERS', 2, 1, 64),
    batchMax: int(env, 'BATCH_MAX', 64, 1, 1024),
    maxConnections: int(env, 'MAX_CONNECTIONS', 256, 1, 65536),
    maxInflightPerConnection: int(env, 'MAX_INFLIGHT_PER_CONNECTION', 256, 1, 65536),
    maxInflightTotal: int(env, 'MAX_INFLIGHT_TOTAL', 1024, 1, 1 << 20),
    shutdownTimeoutMs: int(env, 'SHUTDOWN_TIMEOUT_MS', 10_000, 100, 600_000),
    placement: placementOf(oneOf(env, 'PLACEMENT', 'auto', ['auto', 'workers', 'main'] as const)),
    workerAtomics: oneOf(env, 'WORKER_ATOMICS', 'disabled', ['sync', 'async', 'disabled'] as const),
    holdCoalescing: oneOf(env, 'HOLD_COALESCING', 'on', ['on', 'off'] as const) === 'on',
    cardCache: oneOf(env, 'CARD_CACHE', 'on', ['on', 'off'] as const) === 'on',
    workerConcurrency: int(env, 'WORKER_CONCURRENCY', 64, 1, 4096),
    sweepIntervalMs: int(env, 'SWEEP_INTERVAL_MS', 30_000, 50, 86_400_000),
    ...outboxBackoff(env),
    lowBalanceCheckMs: int(env, 'LOW_BALANCE_CHECK_MS', 1000, 50, 3_600_000),
    ...sandboxOf(env, httpHost, httpTls),
    logLevel: oneOf(env, 'LOG_LEVEL', LOG_LEVEL_DEFAULT, LOG_LEVELS),
    ...historySettings(env),
  };
}

/** The history database and the retention windows of hot state in Redis (docs/ledger.md, "Hot state and history"). */
function historySettings(env: Env): Pick<SwitchConfig, 'databaseUrl' | 'pgDir' | 'redisRetentionMs' | 'duplicateWindowMs' | 'referenceRetentionMs' | 'historyBacklogMaxAgeMs' | 'historyCopier'> {
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl !== null && !/^postgres(ql)?:\/\//.test(databaseUrl)) throw new AppError('SW_ERR_CONFIG', 'DATABASE_URL must be a postgresql:// (or postgres://) URL');
  return {
    databaseUrl,
    pgDir: env.PG_DIR || defaultPgDir(env.REDIS_URL || null, env.REDIS_CLUSTER || null),
    redisRetentionMs: duration(env, 'REDIS_RETENTION', '72h', 1000),
    duplicateWindowMs: duration(env, 'DUPLICATE_WINDOW', '48h', 1000),
    referenceRetentionMs: duration(env, 'REFERENCE_RETENTION', '45d', 1000),
    historyBacklogMaxAgeMs: duration(env, 'HISTORY_BACKLOG_MAX_AGE', '60s', 1000),
    historyCopier: oneOf(env, 'HISTORY_COPIER', 'thread', ['thread', 'main'] as const),
  };
}

/** OUTBOX_BACKOFF_BASE_MS and OUTBOX_BACKOFF_CAP_MS (docs/outbox.md, "Backoff"); the cap may not be below the base. */
function outboxBackoff(env: Env): { outboxBackoffBaseMs: number; outboxBackoffCapMs: number } {
  const outboxBackoffBaseMs = int(env, 'OUTBOX_BACKOFF_BASE_MS', 1000, 1, 3_600_000);
  const outboxBackoffCapMs = int(env, 'OUTBOX_BACKOFF_CAP_MS', 300_000, 1, 86_400_000);
  if (outboxBackoffCapMs < outboxBackoffBaseMs) throw new AppError('SW_ERR_CONFIG', `OUTBOX_BACKOFF_CAP_MS=${outboxBackoffCapMs} must be at least OUTBOX_BACKOFF_BASE_MS=${outboxBackoffBaseMs}`);
  return { outboxBackoffBaseMs, outboxBackoffCapMs };
}

/**
 * The simulation routes reach the switch through its own ISO listener as a plain TCP client. With
 * ISO_TLS_* set that listener requires a client certificate the API process does not hold, so
 * SANDBOX=1 and ISO_TLS_* together stop start-up rather than fail at the first request. Unset,
 * the sandbox is on for the development setup only: plain HTTP on a loopback address, no
 * SWITCH_SECRET (the development secret of var/secret.key) and a plain ISO link.
 */
function sandboxOf(env: Env, httpHost: string, httpTls: TlsPaths | null): { sandbox: boolean; sandboxWhy: string; sandboxExplicit: boolean } {
  const isoTls = Boolean(env.ISO_TLS_CERT || env.ISO_TLS_KEY || env.ISO_TLS_CA);
  const set = env.SANDBOX ?? '';
  if (set !== '' && set !== '0' && set !== '1') throw new AppError('SW_ERR_CONFIG', `SANDBOX=${set} must be 0 or 1 (unset: on for development only)`);
  if (set === '1' && isoTls) {
    throw new AppError('SW_ERR_CONFIG', 'SANDBOX=1 needs the plain ISO link: unset ISO_TLS_CERT, ISO_TLS_KEY and ISO_TLS_CA, or SANDBOX');
  }
  if (set !== '') return { sandbox: set === '1', sandboxWhy: `SANDBOX=${set}`, sandboxExplicit: set === '1' };
  const development = isLoopback(httpHost) && httpTls === null && !env.SWITCH_SECRET && !isoTls;
  return development
    ? { sandbox: true, sandboxWhy: 'on by default for development (HTTP on loopback, no SWITCH_SECRET); SANDBOX=0 turns it off', sandboxExplicit: false }
    : { sandbox: false, sandboxWhy: 'off by default outside development (SWITCH_SECRET, TLS or a non-loopback address); SANDBOX=1 turns it on', sandboxExplicit: false };
}

/**
 * True for an address only this machine reaches: 127.0.0.0/8, ::1 (also in brackets or as
 * ::ffff:127.x.x.x) and the name localhost. Any other address, a wildcard (0.0.0.0, ::) or a host
 * name included, is reachable from the network.
 */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  return h === 'localhost' || h === '::1' || /^(::ffff:)?127(\.\d{1,3}){3}$/.test(h);
}

/**
 * Secure by default: the management API on an address other machines reach must require client
 * certificates (HTTP_TLS_*) or API keys (API_KEYS_FILE); otherwise the switch does not start.
 */
function protectedApi(httpHost: string, httpTls: TlsPaths | null, apiKeysFile: string | null): void {
  if (isLoopback(httpHost) || httpTls !== null || apiKeysFile !== null) return;
  throw new AppError('SW_ERR_API_UNPROTECTED', `HTTP_HOST=${httpHost} is not a loopback address and the management API would answer anyone: `
    + 'set API_KEYS_FILE (API keys, docs/api.md) or HTTP_TLS_CERT, HTTP_TLS_KEY and HTTP_TLS_CA (client certificates), or listen on 127.0.0.1');
}

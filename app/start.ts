// Assembles one switch process: Redis (managed or given), the worker pool, the ISO 8583 listener
// and the HTTP server; and takes them down again in the order that loses nothing.
import { join, resolve } from 'node:path';
import type { Redis, Cluster } from 'ioredis';
import type { SwitchConfig } from './config.js';
import { loadPrograms, ProgramTable, type Program } from '../stores/programs.js';
import { loadSecrets, type Secrets } from '../stores/secrets.js';
import { connectRedis } from '../stores/redis.js';
import { startSupervisedRedis, type SupervisedRedis } from '../ledger/redis-server.js';
import { IsoListener } from '../switch/net/listener.js';
import { mutualTls, plainTcp, readIsoTls, type Transport } from '../switch/net/transport.js';
import { Dispatcher, type BatchRunner, type DispatchObserver } from '../switch/pool/dispatcher.js';
import type { ProcessedEvent } from '../switch/events.js';
import { InlineRunner, PoolRunner } from '../switch/pool/runners.js';
import { createMetrics, type SwitchMetrics } from './metrics.js';
import { createHttpServer, type HttpServer } from '../api/http.js';
import { ApiKeys, createRouter, DASHBOARD_PATH } from '../api/index.js';
import { TransactionFeed } from '../api/feed.js';
import { createApiMetrics } from '../api/metrics.js';
import { CardStore } from '../stores/cards.js';
import { log as processLog, logger, type LogFn } from '../log/index.js';
import { CustomerStore } from '../stores/customers.js';
import { TransactionRecords, duplicateKey, recordIdOf } from '../stores/records.js';
import { answerFailedBatch } from '../switch/process/batch.js';
import { createContext, type ProcessContext } from '../switch/process/run/context.js';
import { Ledger } from '../ledger/index.js';
import { Maintenance } from './maintenance.js';
import { Outbox } from '../adapters/outbox.js';
import { LowBalanceWatcher } from '../adapters/low-balance.js';
import { PartnerClients, partnerSender } from '../adapters/partners.js';
import { partnerMetrics } from '../adapters/partner-metrics.js';
import { AppError, hasCode } from '../errors/index.js';
import { loadKeySet, SoftwareKeyStore, type KeyStore } from '../cardauth/keys.js';
import { loadEncryptionKey, type EncryptionKey } from '../api/jwe.js';
import { CardDataBuilder } from '../cardauth/card-data.js';
import { drainCompensations } from '../switch/process/run/compensation.js';
import { managedPostgresUrl, openHistory, startSupervisedPostgres, type History, type SupervisedPostgres } from '../history/index.js';
import { redisFull } from '../stores/redis.js';

/** How long a stop waits for the outbox's due calls (SPEC §1: flush the outbox); the rest stays in Redis for the next start. */
const OUTBOX_FLUSH_TIMEOUT_MS = 5000;
/** How long a stop waits for the undos still retrying (switch/process/run/compensation.ts) to land. */
const COMPENSATION_DRAIN_MS = 5000;

export type Placement = 'workers' | 'main';

export interface AppOptions {
  config: SwitchConfig;
  env?: Record<string, string | undefined>;
  /** 'workers' (default): piscina threads own Redis and decide. 'main': the main thread does. */
  placement?: Placement;
  atomics?: 'sync' | 'async' | 'disabled';
  secrets?: Secrets;
  /**
   * Where the development files live when their settings are not given (keys.json without
   * KEYS_FILE, encryption-key.pem without ENCRYPTION_KEY_FILE); default ./var.
   */
  varDir?: string;
  /** Where log lines go; default: the process's pino logger (log/index.ts). */
  log?: LogFn;
  /**
   * Called after the switch stopped itself because it cannot go on (its managed Redis died and
   * could not be restarted; the reason is already logged). `npm start` exits 1 here.
   */
  onFatal?: (err: Error) => void;
}

export interface RunningSwitch {
  isoPort: number;
  httpPort: number;
  redisUrl: string | null;
  redis: Redis | Cluster;
  programs: ProgramTable;
  secrets: Secrets;
  /** The card key store of the main thread (operations only; each deciding thread has its own). */
  keys: KeyStore;
  /** The key pair encrypted requests are made to (GET /secure/encryption-key). */
  encryptionKey: EncryptionKey;
  metrics: SwitchMetrics;
  ledger: Ledger;
  maintenance: Maintenance;
  /** Live feed of processed transactions (GET /feed): the dispatcher publishes, dashboards subscribe. */
  feed: TransactionFeed;
  /** Which HTTP server carries the management API: uWebSockets.js or node:http(s). */
  httpServer: 'uws' | 'node';
  /** The history database: its pool, reads (records, archived journal for the checker), copier and health. */
  history: History;
  /** Frames read so far and requests read but not yet answered. */
  listenerStats(): { framesRead: number; inflight: number };
  stop(): Promise<void>;
}

export async function startSwitch(o: AppOptions): Promise<RunningSwitch> {
  // What is already started is taken down again when a later step fails (a port in use, a bad
  // secret), so a failed start leaves no redis-server or worker behind.
  const undo: Array<() => unknown> = [];
  try {
    return await assemble(o, undo);
  } catch (err) {
    for (const step of undo.reverse()) { try { await step(); } catch { /* already failing */ } }
    throw err;
  }
}

async function assemble(o: AppOptions, undo: Array<() => unknown>): Promise<RunningSwitch> {
  const cfg = o.config;
  const log = o.log ?? processLog;
  const config = readConfigFiles(cfg, log);
  // Set once the switch is assembled: a managed Redis that cannot be kept up stops the switch, which
  // never serves on without its ledger.
  let fatal: (err: Error) => void = () => {};
  const metrics = createMetrics();
  const store = await startStorage(cfg, log, undo, metrics, (err) => fatal(err));
  const files = { ...config, ...await loadSecretsAndKeys(o, log, config.programs) };
  const { redis, ledger, history } = store;
  const startedMs = Date.now();
  const back = await startBackOffice(cfg, log, undo, metrics, store, files.programs);
  const apiMetrics = createApiMetrics(metrics.registry);
  const feed = new TransactionFeed({ metrics: apiMetrics });
  const placement = o.placement ?? cfg.placement;
  const { runner, mainCtx } = await startDeciding(o, cfg, undo, metrics, store, files, placement);
  const dispatcher = new Dispatcher(runner, cfg.batchMax, (frames) => answerFailedBatch(mainCtx, frames),
    dispatcherEvents(metrics, log, o.log === undefined, placement === 'workers' ? back.partnerCallMetrics : null, (events) => feed.publish(events)));
  const listener = new IsoListener(dispatcher, {
    maxConnections: cfg.maxConnections, maxInflightPerConnection: cfg.maxInflightPerConnection, maxInflightTotal: cfg.maxInflightTotal,
  }, {
    log,
    oversize: () => metrics.malformed.labels('oversize').inc(),
    handshakeRefused: (reason) => metrics.isoTlsRefused.labels(reason).inc(),
  }, files.transport);
  if (files.transport.kind === 'tls') log('info', 'ISO 8583 link speaks TLS and requires a client certificate from ISO_TLS_CA', { ca: cfg.isoTls?.ca });
  const isoAddr = await portOf(listener.listen(cfg.isoPort, cfg.isoHost), 'ISO_PORT', cfg.isoHost, cfg.isoPort);
  undo.push(() => listener.shutdown(0));

  const cards = CardStore.fromSecrets(redis, files.secrets);
  const registry = sampledRegistry(metrics, listener, runner);
  const router = createRouter({
    redis, ledger, programs: files.programs, cards, keys: files.keys, encryptionKey: files.encryptionKey, customers: new CustomerStore(redis, cards),
    records: new TransactionRecords(redis, ledger, history.reads), feed, outbox: back.outbox, partners: back.partners,
    health: () => healthOf(store, listener),
    async metrics() {
      const r = await registry();
      return { contentType: r.contentType, body: await r.metrics() };
    },
    registry,
    startedMs,
    trackImages: cfg.sandboxExplicit,
    sandbox: cfg.sandbox ? {
      host: connectableHost(cfg.isoHost), port: isoAddr.port, dialect: cfg.dialect,
      recordId: (mtiClass, pan, stan, f7, acquirer, terminal) => recordIdOf(duplicateKey(files.secrets.panIndexKey, mtiClass, pan, stan, f7, acquirer, terminal)),
      // The sandbox plays the card and the acquirer with the switch's own keys: development only (SANDBOX=1).
      cardData: new CardDataBuilder(files.keySet.keys),
    } : null,
  }, { metrics: apiMetrics, log, auth: files.apiKeys });
  const http: HttpServer = await createHttpServer(router, { choice: cfg.httpServer, tls: cfg.httpTls, log });
  const httpAddr = await portOf(http.listen(cfg.httpPort, cfg.httpHost), 'HTTP_PORT', cfg.httpHost, cfg.httpPort);
  undo.push(() => http.close());
  const httpUrl = `${http.tls ? 'https' : 'http'}://${urlHost(cfg.httpHost)}:${httpAddr.port}`;
  log('info', 'switch listening', {
    iso: `${cfg.isoHost}:${isoAddr.port}`, http: httpUrl, dashboard: `${httpUrl}${DASHBOARD_PATH}`, httpServer: http.kind, dialect: cfg.dialect, placement,
    workers: placement === 'workers' ? cfg.workers : 0, apiAuth: apiAuthOf(cfg, files.apiKeys), sandbox: cfg.sandboxWhy.startsWith('SANDBOX=') ? `${cfg.sandbox ? 'on' : 'off'} (${cfg.sandboxWhy})` : cfg.sandboxWhy,
  });
  const stop = stopInOrder(cfg, log, store, back, listener, runner, http);
  fatal = (err) => { void stop().then(() => (o.onFatal ?? (() => {}))(err)); };
  const listenerStats = () => ({ framesRead: listener.framesRead, inflight: listener.inflightTotal });
  return {
    isoPort: isoAddr.port, httpPort: httpAddr.port, redisUrl: store.redisUrl, redis, programs: files.programs, secrets: files.secrets, keys: files.keys,
    encryptionKey: files.encryptionKey, metrics, ledger, maintenance: store.maintenance, feed, httpServer: http.kind, history, listenerStats, stop,
  };
}

/** What start-up reads from files before it starts anything. */
interface ConfigFiles {
  programs: ProgramTable;
  transport: Transport;
  apiKeys: ApiKeys | null;
}

/** The secrets and keys, read once Redis is up (their warnings follow its start-up line). */
interface SecretsAndKeys {
  secrets: Secrets;
  keySet: ReturnType<typeof loadKeySet>;
  keys: SoftwareKeyStore;
  encryptionKey: EncryptionKey;
}

type StartupFiles = ConfigFiles & SecretsAndKeys;

/**
 * Programs, the ISO link's TLS files and API keys, read before anything is started, so that a file
 * that cannot be read stops start-up with one line at once. Throws the loaders' AppErrors.
 */
function readConfigFiles(cfg: SwitchConfig, log: LogFn): ConfigFiles {
  const programs = loadPrograms(cfg.programsFile ?? undefined);
  const transport = cfg.isoTls === null ? plainTcp() : mutualTls(readIsoTls(cfg.isoTls));
  const apiKeys = cfg.apiKeysFile === null ? null : ApiKeys.load(cfg.apiKeysFile, (msg, fields) => log('warn', msg, fields));
  return { programs, transport, apiKeys };
}

/**
 * SWITCH_SECRET (else the development secret file), the card keys (KEYS_FILE, else the development
 * key set under `varDir`, each program's key check values logged) and the encryption key of
 * encrypted requests (ENCRYPTION_KEY_FILE, else a development key). Throws the loaders' AppErrors.
 */
async function loadSecretsAndKeys(o: AppOptions, log: LogFn, programs: ProgramTable): Promise<SecretsAndKeys> {
  const cfg = o.config;
  const secrets = o.secrets ?? loadSecrets(o.env ?? process.env, resolve('var/secret.key'));
  if (secrets.source === 'file') log('warn', 'SWITCH_SECRET is not set: using a development secret from var/secret.key');
  const varDir = o.varDir ?? resolve('var');
  const keySet = loadKeySet(cfg.keysFile, join(varDir, 'keys.json'), programs.programs.map((p) => p.configId));
  const keys = new SoftwareKeyStore(keySet.keys);
  logCardKeys(log, keySet.source, keySet.path, keys, programs);
  const encryptionKey = await loadEncryptionKey(cfg.encryptionKeyFile, join(varDir, 'encryption-key.pem'));
  if (encryptionKey.source === 'development') log('warn', 'ENCRYPTION_KEY_FILE is not set: encrypted requests use a development RSA key', { path: encryptionKey.path, kid: encryptionKey.kid });
  else log('info', 'encryption key for encrypted requests loaded', { kid: encryptionKey.kid });
  return { secrets, keySet, keys, encryptionKey };
}

/** Redis, the ledger and its maintenance, and the history database, started. */
interface Storage {
  managed: SupervisedRedis | null;
  redisUrl: string | null;
  redisSocket: string | null;
  redis: Redis | Cluster;
  ledger: Ledger;
  maintenance: Maintenance;
  history: History;
}

/**
 * Redis (the managed redis-server under REDIS_DIR, or REDIS_URL / REDIS_CLUSTER), the ledger with
 * the retention windows in its meta, its expiry sweeps, and the history database (the managed
 * PostgreSQL under PG_DIR, or DATABASE_URL) with its copier. `onGiveUp`: a managed Redis that
 * cannot be kept up. Throws SW_ERR_REDIS_UNREACHABLE and the servers' start errors.
 */
async function startStorage(cfg: SwitchConfig, log: LogFn, undo: Array<() => unknown>, metrics: SwitchMetrics, onGiveUp: (err: Error) => void): Promise<Storage> {
  let managed: SupervisedRedis | null = null;
  let redisUrl = cfg.redisUrl;
  if (redisUrl === null && cfg.redisCluster === null) {
    managed = await startSupervisedRedis({ dir: cfg.redisDir, appendfsync: cfg.redisAppendfsync, detached: true, log, onGiveUp });
    redisUrl = managed.url;
    undo.push(() => managed?.stop());
    log('info', 'managed redis-server started', { url: redisUrl, dir: cfg.redisDir, appendfsync: cfg.redisAppendfsync });
  }
  // The managed PostgreSQL (history), once Redis has its directory: its first start runs initdb,
  // whose flush to disk would hold up Redis's fsyncs if the two overlapped. A directory another
  // live switch owns (a second switch on the same ledger) is not refused: its server is shared.
  let databaseUrl = cfg.databaseUrl;
  let pgStarting: Promise<SupervisedPostgres> | null = null;
  if (databaseUrl === null) {
    try {
      const server = await startSupervisedPostgres({ dir: cfg.pgDir, detached: true, log });
      undo.push(() => server.stop());
      pgStarting = Promise.resolve(server);
    } catch (err) {
      const running = hasCode(err, 'SW_ERR_PG_DIR_IN_USE') ? managedPostgresUrl(cfg.pgDir) : null;
      if (running === null) throw err;
      databaseUrl = running;
      log('info', 'the managed PostgreSQL of PG_DIR belongs to another live switch: sharing it (it stops with that switch)', { dir: cfg.pgDir, error: (err as Error).message });
    }
  }
  const redisSocket = managed === null ? null : managed.socketPath;
  const redis = connectRedis({ url: redisUrl, cluster: cfg.redisCluster, socketPath: redisSocket });
  undo.push(() => redis.disconnect());
  await reachable(redis, redisUrl ?? cfg.redisCluster ?? '');
  // The switch's records index every message of a balance: the ledger keeps no history list of its own.
  // The retention windows go into the ledger's meta, where the deciding threads' ledgers read them.
  const ledger = await Ledger.open(redis, {
    balanceHistory: false,
    windows: { finishedMs: cfg.redisRetentionMs, duplicateMs: cfg.duplicateWindowMs, referenceMs: cfg.referenceRetentionMs },
  });
  const maintenance = new Maintenance(ledger, { intervalMs: cfg.sweepIntervalMs, sweepPageSize: 500, maxPagesPerTick: 20, log });
  await maintenance.start();
  undo.push(() => maintenance.stop());
  // History: a managed PostgreSQL (or DATABASE_URL), its schema, and the copier (HISTORY_COPIER: its own thread, or this one).
  const history = await openHistory({
    databaseUrl, pgDir: cfg.pgDir, redis, ledger,
    ...(cfg.historyCopier === 'thread' ? { copierRedis: { url: redisUrl, cluster: cfg.redisCluster, socketPath: redisSocket } } : {}), log, registry: metrics.registry,
    backlogMaxAgeMs: cfg.historyBacklogMaxAgeMs, detached: true, server: pgStarting,
  });
  undo.push(() => history.stop());
  log('info', 'history database', { where: history.where });
  return { managed, redisUrl, redisSocket, redis, ledger, maintenance, history };
}

/** The partner clients, the outbox's sender and the low-balance watcher: what runs on the main thread beside the deciding. */
interface BackOffice {
  partners: PartnerClients;
  partnerCallMetrics: ReturnType<typeof partnerMetrics>;
  outbox: Outbox;
  watcher: LowBalanceWatcher | null;
}

/**
 * The outbox's sender: the partner calls that cannot be refused and the notifications, written by
 * the deciding threads before their answers, are delivered from here with their own keys until the
 * partner (or the webhook receiver) takes them; notifications of programs with webhooks are also
 * webhook deliveries, each retried on its own. Programs with lowBalanceMinor: their DEPOSIT /
 * CREDIT partner balances are watched from here.
 */
async function startBackOffice(cfg: SwitchConfig, log: LogFn, undo: Array<() => unknown>, metrics: SwitchMetrics, store: Storage, programs: ProgramTable): Promise<BackOffice> {
  const partners = new PartnerClients(programs, metrics.registry, log);
  const partnerCallMetrics = partnerMetrics(metrics.registry);
  undo.push(() => partners.close());
  const outbox = await Outbox.open(store.redis, { registry: metrics.registry, log, backoffBaseMs: cfg.outboxBackoffBaseMs, backoffCapMs: cfg.outboxBackoffCapMs });
  outbox.start(partnerSender(partners, programs, (e) => outbox.enqueue(e)));
  undo.push(() => outbox.stop());
  const watcher = LowBalanceWatcher.wanted(programs) ? new LowBalanceWatcher({ redis: store.redis, ledger: store.ledger, programs, outbox, intervalMs: cfg.lowBalanceCheckMs, log }) : null;
  watcher?.start();
  undo.push(() => watcher?.stop());
  return { partners, partnerCallMetrics, outbox, watcher };
}

/**
 * The deciding side: the worker pool (placement `workers`, each thread with its own Redis
 * connection, ledger and stores) or the main thread (`main`), and the main thread's deciding
 * context, which also answers a batch that failed as a whole (switch/process/batch.ts
 * answerFailedBatch) in both placements.
 */
async function startDeciding(
  o: AppOptions, cfg: SwitchConfig, undo: Array<() => unknown>, metrics: SwitchMetrics, store: Storage, files: StartupFiles, placement: Placement,
): Promise<{ runner: BatchRunner; mainCtx: ProcessContext }> {
  const init = {
    redisUrl: store.redisUrl, redisSocket: store.redisSocket, redisCluster: cfg.redisCluster, dialect: cfg.dialect, programs: files.programs.programs.map(asDecidingThreadsSeeIt),
    panIndexKey: new Uint8Array(files.secrets.panIndexKey), holdCoalescing: cfg.holdCoalescing, cardCache: cfg.cardCache, keys: files.keySet.keys,
  };
  const mainCtx: ProcessContext = await createContext({
    dialect: cfg.dialect, redis: store.redis, programs: new ProgramTable(init.programs), panIndexKey: files.secrets.panIndexKey, holdCoalescing: cfg.holdCoalescing, cardCache: cfg.cardCache, keys: files.keySet.keys,
    ...(placement === 'workers' ? {} : { registry: metrics.registry }),
  });
  undo.push(() => mainCtx.partners.close());
  let runner: BatchRunner;
  if (placement === 'workers') {
    const pool = new PoolRunner({ threads: cfg.workers, maxQueue: 4096, atomics: o.atomics ?? cfg.workerAtomics, concurrentTasksPerWorker: cfg.workerConcurrency, init });
    runner = pool;
    undo.push(() => pool.close());
    await pool.ready();
  } else {
    runner = new InlineRunner(mainCtx);
  }
  undo.push(() => runner.close());
  return { runner, mainCtx };
}

/**
 * What the dispatcher reports, turned into metrics, rate-limited log lines and the live feed.
 * `debugLines`: LOG_LEVEL=debug gives one line per decided message through the process logger
 * (read once here, so the hot path pays one boolean test per batch when it is off, the default; a
 * caller that injects its own log, as tests do, gets none). `workerPartnerCalls`: the partner
 * metrics the worker threads' decision-path calls are counted into (on the main thread the client
 * counts them itself: null). Format errors and undecodable frames are logged at most once a minute
 * per connection and kind (a peer sending garbage must not flood the log); every one is counted.
 */
function dispatcherEvents(
  metrics: SwitchMetrics, log: LogFn, debugLines: boolean, workerPartnerCalls: ReturnType<typeof partnerMetrics> | null, publish: (events: readonly ProcessedEvent[]) => void,
): DispatchObserver {
  const perConnection = new RateLimitedLog(ISO_FAULT_LOG_INTERVAL_MS);
  const perMessageDebug = debugLines && logger.isLevelEnabled('debug');
  return {
    answered(request, code, seconds) {
      const mti = request.length >= 4 ? request.toString('latin1', 0, 4) : '????';
      if (code !== '') {
        metrics.messages.labels(mti, code).inc();
        metrics.authLatency.labels(mti, code).observe(seconds);
      }
    },
    processed(events) {
      if (perMessageDebug) {
        for (const e of events) {
          logger.debug({ mti: e.mti, responseCode: e.responseCode, reason: e.reason, maskedPan: e.maskedPan, amountMinor: e.amountMinor, currency: e.currency, txId: e.txId }, 'message decided');
        }
      }
      for (const e of events) {
        metrics.decisions.labels(e.mti, e.responseCode, e.reason).inc();
        if (e.wouldDecline !== null) metrics.shadowDeclines.labels(e.wouldDecline).inc();
        if (e.scriptSeconds !== null) metrics.scriptLatency.labels(e.mti.startsWith('02') ? 'debit' : 'hold').observe(e.scriptSeconds);
        const pc = e.partnerCall;
        if (pc !== null && workerPartnerCalls !== null) {
          workerPartnerCalls.latency.labels(pc.partner, pc.endpoint, pc.outcome).observe(pc.seconds);
          if (pc.outcome === 'TIMEOUT') workerPartnerCalls.timeouts.labels(pc.partner, pc.endpoint).inc();
          else if (pc.outcome !== 'ok' && pc.outcome !== 'DECLINED') workerPartnerCalls.errors.labels(pc.partner, pc.endpoint, pc.outcome).inc();
        }
      }
      publish(events);
    },
    undecodable(reason, target) {
      // The reason names fields and offsets, never content (iso/errors.ts).
      perConnection.log(`${target.peer}|undecodable`, (suppressed) => log('warn', 'frame dropped: cannot be decoded far enough to answer', { conn: target.peer, reason, suppressedSinceLastLine: suppressed }));
    },
    formatError(fault, target) {
      metrics.formatErrors.labels(String(fault.field)).inc();
      perConnection.log(`${target.peer}|${fault.field}`, (suppressed) => log('warn', 'answered 30: format error', { conn: target.peer, field: fault.field, problem: fault.problem, suppressedSinceLastLine: suppressed }));
    },
    batchFailed(err) {
      metrics.batchFailures.inc();
      log('error', 'batch failed: answered with a system error', { error: String((err as Error).message ?? err).slice(0, 200) });
    },
  };
}

/** The metrics registry with the gauges sampled rather than kept current set just before it is read (GET /metrics, the dashboard). */
function sampledRegistry(metrics: SwitchMetrics, listener: IsoListener, runner: BatchRunner): () => Promise<SwitchMetrics['registry']> {
  return async () => {
    metrics.inflight.set(listener.inflightTotal);
    metrics.connections.set(listener.connectionCount);
    if (runner instanceof PoolRunner) {
      metrics.poolQueue.set(runner.queueSize);
      metrics.poolUtilization.set(runner.utilization);
    }
    const dropped = (runner as { malformedDropped?: number }).malformedDropped ?? 0;
    const current = (await metrics.malformed.get()).values.find((v) => v.labels.kind === 'undecodable')?.value ?? 0;
    if (dropped > current) metrics.malformed.labels('undecodable').inc(dropped - current);
    return metrics.registry;
  };
}

/** GET /health: Redis (up, down, or full), the history database and its backlog, the listener. */
async function healthOf(store: Storage, listener: IsoListener): Promise<{ ok: boolean; detail: Record<string, unknown> }> {
  let redisState: 'up' | 'down' | 'full' = 'down';
  try {
    if (store.managed?.up !== false && (await store.redis.ping()) === 'PONG') redisState = (await redisFull(store.redis)) ? 'full' : 'up';
  } catch { redisState = 'down'; }
  const h = await store.history.health();
  return {
    ok: redisState === 'up' && h.ok && listener.listening,
    detail: { redis: redisState, history: h.state, ...(h.backlog === null ? {} : { historyBacklog: h.backlog }), listener: listener.listening ? 'up' : 'down' },
  };
}

/**
 * The stop that loses nothing, once however often it is called: stop accepting and answer every
 * request already read, stop the sweeps and the watcher, close the deciding threads, flush the
 * outbox, let the copier drain what the last answers wrote, close HTTP, then Redis.
 */
function stopInOrder(cfg: SwitchConfig, log: LogFn, store: Storage, back: BackOffice, listener: IsoListener, runner: BatchRunner, http: HttpServer): () => Promise<void> {
  let stopping: Promise<void> | null = null;
  return () => {
    stopping ??= (async () => {
      await listener.shutdown(cfg.shutdownTimeoutMs);
      await store.maintenance.stop();
      await back.watcher?.stop();
      await runner.close();
      // Undos still retrying (a debit answered 96 while Redis was away) are finished, not dropped.
      const undone = await drainCompensations(COMPENSATION_DRAIN_MS);
      if (undone > 0) log('error', 'compensations still pending at stop: their holds are left to the hold-expiry sweeper, a posted debit stays posted', { code: 'SW_ERR_COMPENSATION', pending: undone });
      // SIGTERM flushes the outbox: what is due is sent now; what the partner does not take stays
      // durable. With Redis gone (a fatal stop) there is nothing to flush: the entries wait in it.
      try {
        await back.outbox.flush(OUTBOX_FLUSH_TIMEOUT_MS);
      } catch (err) {
        log('warn', 'outbox not flushed at stop: its entries stay in Redis for the next start', { error: String((err as Error).message ?? err).slice(0, 200) });
        await back.outbox.stop().catch(() => undefined);
      }
      await back.partners.close();
      await store.history.stop();
      await http.close();
      store.redis.disconnect();
      if (store.managed) await store.managed.stop();
      log('info', 'switch stopped');
    })();
    return stopping;
  };
}

/**
 * The card keys at start: each program's key check values (never a key), a warning for the
 * development key set, for a program without keys (its card data fails closed) and for a KEYS_FILE
 * ZPK that any acquirer may use (`*`).
 */
function logCardKeys(log: LogFn, source: 'file' | 'development', path: string, keys: KeyStore, programs: ProgramTable): void {
  if (source === 'development') log('warn', 'KEYS_FILE is not set: card verification uses a development key set', { path });
  for (const k of keys.checkValues()) {
    log('info', 'card keys loaded', { configId: k.configId, kcv: { cvk: k.cvk, pvk: k.pvk, imkAc: k.imkAc, zpk: k.zpk }, pvki: k.pvki });
    if (source === 'file' && '*' in k.zpk) log('warn', 'KEYS_FILE gives a ZPK for any acquirer (*): name each acquirer in production', { configId: k.configId });
  }
  for (const p of programs.programs) {
    if (!keys.hasKeys(p.configId)) log('warn', 'a program has no card keys in KEYS_FILE: its card data is refused (63, SECURITY_VIOLATION NO_KEYS)', { configId: p.configId });
  }
}

/**
 * A program as the deciding threads get it. The deciding code tells a program's notifications to
 * the outbox when the program has a `partner` block (switch/process/batch.ts); a program with
 * webhooks and no partner must be told of them too, so for the deciding threads its webhook URL
 * stands in as a partner block that only receives notifications. Such a program is INTERNAL (the
 * partner modes need a real partner block), so no partner call is ever made with it; the outbox's
 * sender, on the main thread, reads the real program table and sends its notifications to the
 * webhook only. To be removed once the deciding code asks stores/programs.ts receivesNotifications().
 */
function asDecidingThreadsSeeIt(p: Program): Program {
  if (p.partner !== null || p.webhooks === null) return p;
  return { ...p, partner: { baseUrl: p.webhooks.url, timeoutMs: p.webhooks.timeoutMs } };
}

/** How the management API authenticates, for the start-up line (never a key). */
function apiAuthOf(cfg: SwitchConfig, keys: ApiKeys | null): string {
  const ways = [...(keys === null ? [] : [`API keys (${keys.size})`]), ...(cfg.httpTls === null ? [] : ['client certificates'])];
  return ways.length === 0 ? 'none (loopback only)' : ways.join(' and ');
}

/** Format errors and undecodable frames: one log line per connection and kind per this many ms. */
const ISO_FAULT_LOG_INTERVAL_MS = 60_000;
/** Connections × kinds remembered by the rate limiter before it starts afresh. */
const RATE_LIMITED_KEYS_MAX = 10_000;

/** At most one line per key and interval; the lines held back are counted into the next one. */
class RateLimitedLog {
  private readonly last = new Map<string, { atMs: number; suppressed: number }>();
  constructor(private readonly intervalMs: number) {}
  log(key: string, write: (suppressed: number) => void): void {
    const now = Date.now();
    const e = this.last.get(key);
    if (e !== undefined && now - e.atMs < this.intervalMs) { e.suppressed++; return; }
    if (e === undefined && this.last.size >= RATE_LIMITED_KEYS_MAX) this.last.clear();
    write(e?.suppressed ?? 0);
    this.last.set(key, { atMs: now, suppressed: 0 });
  }
}

/** The listener's own address as a client reaches it: a wildcard address means loopback. */
function connectableHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' || host === '[::]' ? '::1' : host;
}

/** A host as it goes in a URL: an IPv6 address in brackets. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

/** A port already taken becomes one line naming the variable to change (a second switch beside a first one needs its own ports). */
async function portOf<T>(listening: Promise<T>, variable: 'ISO_PORT' | 'HTTP_PORT', host: string, port: number): Promise<T> {
  try {
    return await listening;
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw err;
    const why = code === 'EADDRINUSE' ? 'is in use (another switch, or another program)' : 'may not be opened by this user';
    throw new AppError('SW_ERR_PORT_IN_USE', `${variable}=${port} on ${host} ${why}: set ${variable} to a free port${variable === 'ISO_PORT' ? ' (and HTTP_PORT, which a second switch needs too)' : ''}`);
  }
}

const REDIS_CONNECT_TIMEOUT_MS = 5000;

/** What a failed Redis connection means, in words an operator can act on (the client library's own text is not shown). */
const REDIS_CONNECT_ERRORS: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'nothing listens there (connection refused)', ENOTFOUND: 'the host name does not resolve', EAI_AGAIN: 'the host name does not resolve',
  ETIMEDOUT: 'the connection timed out', EHOSTUNREACH: 'the host is unreachable', ECONNRESET: 'the connection was reset',
};

async function reachable(redis: Redis | Cluster, where: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  let last: { code?: string; message?: string } | null = null;
  const remember = (e: { code?: string; message?: string }) => { last = e; };
  redis.on('error', remember);
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('SW_ERR_REDIS_UNREACHABLE', `cannot reach Redis at ${where}: no answer within ${REDIS_CONNECT_TIMEOUT_MS} ms; check REDIS_URL / REDIS_CLUSTER`)), REDIS_CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([redis.ping(), timeout]);
  } catch (err) {
    if (hasCode(err, 'SW_ERR_REDIS_UNREACHABLE')) throw err;
    throw new AppError('SW_ERR_REDIS_UNREACHABLE', `cannot reach Redis at ${where}: ${redisFailure(last ?? (err as { code?: string; message?: string }))}; check REDIS_URL / REDIS_CLUSTER`);
  } finally {
    clearTimeout(timer);
    redis.off('error', remember);
  }
}

/** A connection error as a few words: the known codes spelled out, Redis's own replies (NOAUTH, WRONGPASS) kept, anything else by its code. */
function redisFailure(e: { code?: string; message?: string }): string {
  if (e.code !== undefined && REDIS_CONNECT_ERRORS[e.code] !== undefined) return REDIS_CONNECT_ERRORS[e.code] as string;
  const reply = /^(NOAUTH|WRONGPASS|ERR)\b.*/.exec(e.message ?? '');
  if (reply !== null) return `Redis answered: ${reply[0].slice(0, 120)}`;
  return e.code !== undefined ? `connection error ${e.code}` : 'it does not answer';
}

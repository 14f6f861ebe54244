// Assembles one switch process: Redis (managed or given), the worker pool, the ISO 8583 listener
// and the HTTP server; and takes them down again in the order that loses nothing.
import { resolve } from 'node:path';
import type { Redis, Cluster } from 'ioredis';
import type { SwitchConfig } from './config.js';
import { loadPrograms, type ProgramTable } from '../stores/programs.js';
import { loadSecrets, type Secrets } from '../stores/secrets.js';
import { connectRedis } from '../stores/redis.js';
import { startSupervisedRedis, type SupervisedRedis } from '../ledger/redis-server.js';
import { IsoListener } from '../switch/net/listener.js';
import { mutualTls, plainTcp, readIsoTls } from '../switch/net/transport.js';
import { frame } from '../iso/frame.js';
import { Dispatcher, type BatchRunner, type RunResult } from '../switch/pool/dispatcher.js';
import type { ProcessedEvent } from '../switch/events.js';
import { compensate, undoRequest } from '../switch/process/compensation.js';
import { InlineRunner, PoolRunner } from '../switch/pool/runners.js';
import { createMetrics, type SwitchMetrics } from './metrics.js';
import { createHttpServer, type HttpServer } from '../api/http.js';
import { createRouter, DASHBOARD_PATH } from '../api/index.js';
import { TransactionFeed } from '../api/feed.js';
import { createApiMetrics } from '../api/metrics.js';
import { CardStore } from '../stores/cards.js';
import { log as processLog, logger, type LogFn } from '../log/index.js';
import { CustomerStore } from '../stores/customers.js';
import { TransactionRecords, duplicateKey, recordIdOf } from '../stores/records.js';
import { IsoCodec } from '../iso/codec.js';
import { dialectByName } from '../iso/dialect.js';
import { answer, ECHO_FIELDS } from '../switch/process/render.js';
import { responseMti } from '../switch/process/messages.js';
import { responseCode } from '../iso/reasons.js';
import { Ledger } from '../ledger/index.js';
import { Maintenance } from './maintenance.js';
import { Outbox } from '../adapters/outbox.js';
import { LowBalanceWatcher } from '../adapters/low-balance.js';
import { PartnerClients, partnerSender } from '../adapters/partners.js';
import { partnerMetrics } from '../adapters/partner-metrics.js';
import { AppError, hasCode } from '../errors/index.js';
import { managedPostgresUrl, openHistory, startSupervisedPostgres, type History, type SupervisedPostgres } from '../history/index.js';
import { redisFull } from '../stores/redis.js';

/** How long a stop waits for the outbox's due calls (SPEC §1: flush the outbox); the rest stays in Redis for the next start. */
const OUTBOX_FLUSH_TIMEOUT_MS = 5000;

export type Placement = 'workers' | 'main';

export interface AppOptions {
  config: SwitchConfig;
  env?: Record<string, string | undefined>;
  /** 'workers' (default): piscina threads own Redis and decide. 'main': the main thread does. */
  placement?: Placement;
  atomics?: 'sync' | 'async' | 'disabled';
  secrets?: Secrets;
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
  const programs = loadPrograms(cfg.programsFile ?? undefined);
  // Read before anything is started, so an unreadable ISO_TLS_* file stops start-up with one line at once.
  const transport = cfg.isoTls === null ? plainTcp() : mutualTls(readIsoTls(cfg.isoTls));
  let managed: SupervisedRedis | null = null;
  let pgStarting: Promise<SupervisedPostgres> | null = null;
  let redisUrl = cfg.redisUrl;
  // Set once the switch is assembled: a managed Redis that cannot be kept up stops the switch, which
  // never serves on without its ledger.
  let fatal: (err: Error) => void = () => {};
  if (redisUrl === null && cfg.redisCluster === null) {
    managed = await startSupervisedRedis({
      dir: cfg.redisDir, appendfsync: cfg.redisAppendfsync, detached: true, log, onGiveUp: (err) => fatal(err),
    });
    redisUrl = managed.url;
    undo.push(() => managed?.stop());
    log('info', 'managed redis-server started', { url: redisUrl, dir: cfg.redisDir, appendfsync: cfg.redisAppendfsync });
  }
  // The managed PostgreSQL (history), once Redis has its directory: its first start runs initdb,
  // whose flush to disk would hold up Redis's fsyncs if the two overlapped. A directory another
  // live switch owns (a second switch on the same ledger) is not refused: its server is shared.
  let databaseUrl = cfg.databaseUrl;
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
  const secrets = o.secrets ?? loadSecrets(o.env ?? process.env, resolve('var/secret.key'));
  if (secrets.source === 'file') log('warn', 'SWITCH_SECRET is not set: using a development secret from var/secret.key');
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
  const metrics = createMetrics();
  const startedMs = Date.now();
  // History: a managed PostgreSQL (or DATABASE_URL), its schema, and the copier on this thread.
  const history = await openHistory({
    databaseUrl, pgDir: cfg.pgDir, redis, ledger, log, registry: metrics.registry,
    backlogMaxAgeMs: cfg.historyBacklogMaxAgeMs, detached: true, server: pgStarting,
  });
  undo.push(() => history.stop());
  log('info', 'history database', { where: history.where });
  // The outbox's sender: the partner calls that cannot be refused, written by the deciding threads
  // before their answers, are delivered from here with their own keys until the partner takes them.
  const partners = new PartnerClients(programs, metrics.registry, log);
  const partnerCallMetrics = partnerMetrics(metrics.registry);
  undo.push(() => partners.close());
  const outbox = await Outbox.open(redis, { registry: metrics.registry, log, backoffBaseMs: cfg.outboxBackoffBaseMs, backoffCapMs: cfg.outboxBackoffCapMs });
  outbox.start(partnerSender(partners));
  undo.push(() => outbox.stop());
  // Programs with lowBalanceMinor: their DEPOSIT / CREDIT partner balances are watched from here.
  const watcher = LowBalanceWatcher.wanted(programs) ? new LowBalanceWatcher({ redis, ledger, programs, outbox, intervalMs: cfg.lowBalanceCheckMs, log }) : null;
  watcher?.start();
  undo.push(() => watcher?.stop());
  const apiMetrics = createApiMetrics(metrics.registry);
  const feed = new TransactionFeed({ metrics: apiMetrics });
  const init = { redisUrl, redisSocket, redisCluster: cfg.redisCluster, dialect: cfg.dialect, programs: [...programs.programs], cardIndexKey: new Uint8Array(secrets.panIndexKey), holdCoalescing: cfg.holdCoalescing, cardCache: cfg.cardCache };

  let runner: BatchRunner;
  const placement = o.placement ?? cfg.placement;
  if (placement === 'workers') {
    const pool = new PoolRunner({ threads: cfg.workers, maxQueue: 4096, atomics: o.atomics ?? cfg.workerAtomics, concurrentTasksPerWorker: cfg.workerConcurrency, init });
    runner = pool;
    undo.push(() => pool.close());
    await pool.ready();
  } else {
    runner = await InlineRunner.create(init, redis, metrics.registry);
  }
  undo.push(() => runner.close());

  // The live feed (api/feed.ts) subscribes once the HTTP side is up.
  let processedSink: (events: readonly ProcessedEvent[]) => void = () => {};
  const fallbackCodec = new IsoCodec(dialectByName(cfg.dialect));
  // A batch that failed as a whole is answered 96; the debits it may have held or posted are
  // undone (compensation.ts), so those answers and the ledger agree.
  const mainCards = new CardStore(redis, secrets.panIndexKey);
  const answerCache = { store: new TransactionRecords(redis, ledger), duplicateKeyHmac: secrets.panIndexKey };
  const failedBatch = (frames: readonly Buffer[]): RunResult => {
    for (const f of frames) {
      const d = fallbackCodec.unpack(f);
      if (d.ok) compensate(() => undoRequest(ledger, mainCards, d.msg.mti, d.msg.fields, answerCache));
    }
    return systemErrorAnswers(fallbackCodec, cfg.dialect, frames);
  };
  const undecodableLog = { lastMs: 0, suppressed: 0 };
  // LOG_LEVEL=debug: one line per decided message, through the process logger (a caller that
  // injects its own log, as tests do, gets none). Read once here, so the hot path pays one
  // boolean test per batch when it is off (the default).
  const perMessageDebug = o.log === undefined && logger.isLevelEnabled('debug');
  const dispatcher = new Dispatcher(runner, cfg.batchMax, failedBatch, {
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
        if (e.scriptSeconds !== null) metrics.scriptLatency.labels(e.mti.startsWith('02') ? 'debit' : 'hold').observe(e.scriptSeconds);
        // Worker threads keep their partner clients' metrics to themselves: their decision-path calls
        // are counted here from the events (on the main thread the client counted them already).
        const pc = e.partnerCall;
        if (pc !== null && placement === 'workers') {
          partnerCallMetrics.latency.labels(pc.partner, pc.endpoint, pc.outcome).observe(pc.seconds);
          if (pc.outcome === 'TIMEOUT') partnerCallMetrics.timeouts.labels(pc.partner, pc.endpoint).inc();
          else if (pc.outcome !== 'ok' && pc.outcome !== 'DECLINED') partnerCallMetrics.errors.labels(pc.partner, pc.endpoint, pc.outcome).inc();
        }
      }
      processedSink(events);
    },
    undecodable(reason, target) {
      // Rate-limited: a peer sending garbage must not flood the log. The reason names fields and
      // offsets, never content (iso/errors.ts).
      const now = Date.now();
      if (now - undecodableLog.lastMs < 1000) { undecodableLog.suppressed++; return; }
      log('warn', 'frame dropped: cannot be decoded far enough to answer', { conn: target.peer, reason, suppressedSinceLastLine: undecodableLog.suppressed });
      undecodableLog.lastMs = now;
      undecodableLog.suppressed = 0;
    },
    batchFailed(err) {
      metrics.batchFailures.inc();
      log('error', 'batch failed: answered with a system error', { error: String((err as Error).message ?? err).slice(0, 200) });
    },
  });
  const listener = new IsoListener(dispatcher, {
    maxConnections: cfg.maxConnections, maxInflightPerConnection: cfg.maxInflightPerConnection, maxInflightTotal: cfg.maxInflightTotal,
  }, {
    log,
    oversize: () => metrics.malformed.labels('oversize').inc(),
    handshakeRefused: (reason) => metrics.isoTlsRefused.labels(reason).inc(),
  }, transport);
  if (transport.kind === 'tls') log('info', 'ISO 8583 link speaks TLS and requires a client certificate from ISO_TLS_CA', { ca: cfg.isoTls?.ca });
  const isoAddr = await listener.listen(cfg.isoPort, cfg.isoHost);
  undo.push(() => listener.shutdown(0));

  const cards = CardStore.fromSecrets(redis, secrets);
  // The gauges sampled rather than kept current, set just before the registry is read (GET /metrics, the dashboard).
  const refreshed = async () => {
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
  const router = createRouter({
    redis, ledger, programs, cards, customers: new CustomerStore(redis, cards),
    records: new TransactionRecords(redis, ledger, history.reads), feed, outbox, partners,
    async health() {
      let redisState: 'up' | 'down' | 'full' = 'down';
      try {
        if (managed?.up !== false && (await redis.ping()) === 'PONG') redisState = (await redisFull(redis)) ? 'full' : 'up';
      } catch { redisState = 'down'; }
      const h = await history.health();
      return {
        ok: redisState === 'up' && h.ok && listener.listening,
        detail: { redis: redisState, history: h.state, ...(h.backlog === null ? {} : { historyBacklog: h.backlog }), listener: listener.listening ? 'up' : 'down' },
      };
    },
    async metrics() {
      const registry = await refreshed();
      return { contentType: registry.contentType, body: await registry.metrics() };
    },
    registry: refreshed,
    startedMs,
    sandbox: cfg.sandbox ? {
      host: connectableHost(cfg.isoHost), port: isoAddr.port, dialect: cfg.dialect,
      recordId: (mtiClass, pan, stan, f7, acquirer, terminal) => recordIdOf(duplicateKey(secrets.panIndexKey, mtiClass, pan, stan, f7, acquirer, terminal)),
    } : null,
  }, { metrics: apiMetrics, log });
  const http: HttpServer = await createHttpServer(router, { choice: cfg.httpServer, tls: cfg.httpTls, log });
  processedSink = (events) => feed.publish(events);
  const httpAddr = await http.listen(cfg.httpPort, cfg.httpHost);
  undo.push(() => http.close());
  const httpUrl = `${http.tls ? 'https' : 'http'}://${urlHost(cfg.httpHost)}:${httpAddr.port}`;
  log('info', 'switch listening', { iso: `${cfg.isoHost}:${isoAddr.port}`, http: httpUrl, dashboard: `${httpUrl}${DASHBOARD_PATH}`, httpServer: http.kind, dialect: cfg.dialect, placement, workers: placement === 'workers' ? cfg.workers : 0 });

  let stopping: Promise<void> | null = null;
  const stop = () => {
    stopping ??= (async () => {
      await listener.shutdown(cfg.shutdownTimeoutMs);
      await maintenance.stop();
      await watcher?.stop();
      await runner.close();
      // SIGTERM flushes the outbox: what is due is sent now; what the partner does not take stays
      // durable. With Redis gone (a fatal stop) there is nothing to flush: the entries wait in it.
      try {
        await outbox.flush(OUTBOX_FLUSH_TIMEOUT_MS);
      } catch (err) {
        log('warn', 'outbox not flushed at stop: its entries stay in Redis for the next start', { error: String((err as Error).message ?? err).slice(0, 200) });
        await outbox.stop().catch(() => undefined);
      }
      await partners.close();
      // The copier drains what the last answers wrote, then the history database is closed.
      await history.stop();
      await http.close();
      redis.disconnect();
      if (managed) await managed.stop();
      log('info', 'switch stopped');
    })();
    return stopping;
  };
  fatal = (err) => { void stop().then(() => (o.onFatal ?? (() => {}))(err)); };
  const listenerStats = () => ({ framesRead: listener.framesRead, inflight: listener.inflightTotal });
  return { isoPort: isoAddr.port, httpPort: httpAddr.port, redisUrl, redis, programs, secrets, metrics, ledger, maintenance, feed, httpServer: http.kind, history, listenerStats, stop };
}

/** The listener's own address as a client reaches it: a wildcard address means loopback. */
function connectableHost(host: string): string {
  return host === '0.0.0.0' ? '127.0.0.1' : host === '::' || host === '[::]' ? '::1' : host;
}

/** A host as it goes in a URL: an IPv6 address in brackets. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
}

const REDIS_CONNECT_TIMEOUT_MS = 5000;

async function reachable(redis: Redis | Cluster, where: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new AppError('SW_ERR_REDIS_UNREACHABLE', `cannot reach Redis at ${where} within ${REDIS_CONNECT_TIMEOUT_MS} ms: check REDIS_URL / REDIS_CLUSTER`)), REDIS_CONNECT_TIMEOUT_MS);
  });
  try {
    await Promise.race([redis.ping(), timeout]);
  } catch (err) {
    if (hasCode(err, 'SW_ERR_REDIS_UNREACHABLE')) throw err;
    throw new AppError('SW_ERR_REDIS_UNREACHABLE', `cannot reach Redis at ${where}: ${(err as Error).message.slice(0, 120)}; check REDIS_URL / REDIS_CLUSTER`);
  } finally {
    clearTimeout(timer);
  }
}

/** When a whole batch fails (a worker died), each request that names its MTI and STAN gets 96. */
function systemErrorAnswers(codec: IsoCodec, dialect: '1987' | '2003', frames: readonly Buffer[]): RunResult {
  const out: Array<Buffer | null> = [];
  const codes: string[] = [];
  const code = responseCode('UNKNOWN_ERROR', dialect);
  for (const f of frames) {
    const r = codec.unpack(f);
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const mti = responseMti(r.ok ? r.msg.mti : r.partial.mti);
    if (mti === null || !fields.has(11)) { out.push(null); codes.push(''); continue; }
    let body: Buffer;
    try { body = codec.pack(answer(fields, mti, ECHO_FIELDS, code)); } catch { out.push(null); codes.push(''); continue; }
    out.push(frame(body));
    codes.push(code);
  }
  return { frames: out, codes };
}

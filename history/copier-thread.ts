// The history copier in a thread of its own (history/copier-worker.ts): what the switch runs. The
// copier's work — reading up to thousands of stream entries, building a batch's statement,
// settling it in Redis — is a few milliseconds of uninterrupted JavaScript per cycle; on the
// thread that answers the network it sat in front of the messages waiting behind it
// (docs/architecture.md, "Where the tail comes from"). Here it has its own event loop, its own
// Redis connection and its own PostgreSQL pool; this side keeps the interface the rest of the
// switch uses (start, stop, backlog), receives the thread's log lines and metrics, and starts the
// thread again if it ever dies.
import { Worker } from 'node:worker_threads';
import type { Cluster, Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import type { Keyspace } from '../ledger/keys.js';
import type { HistoryWindows } from '../ledger/types.js';
import type { LogFn } from '../log/index.js';
import type { RedisTarget } from '../stores/redis.js';
import { copierMetrics, streamBacklog, type Backlog, type CopierObserver } from './copier.js';
import type { HistoryTarget } from './db.js';

/** How long a stop waits for the thread to drain and close before it is terminated (its drain is 3 s at most, plus a cycle in flight). */
const STOP_WAIT_MS = 8000;
/** A thread that died is started again after this pause, doubled for each death in a row (none copied in between) up to RESTART_DELAY_MAX_MS. */
const RESTART_DELAY_MS = 1000;
const RESTART_DELAY_MAX_MS = 30_000;

/** What the copier thread is started with (worker data: plain values only). */
export interface CopierThreadInit {
  redis: RedisTarget;
  database: HistoryTarget;
  /** The ledger's slot groups (Keyspace). */
  groups: number;
  windows: HistoryWindows;
  intervalMs?: number;
  batchMax?: number;
}

export type ToCopierThread = { t: 'start' } | { t: 'stop' };
export type FromCopierThread =
  | { t: 'ready' }
  | { t: 'stopped' }
  | { t: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> }
  | { t: 'copied'; journalEntries: number; records: number; batchSeconds: number; delaysSeconds: Float64Array }
  | { t: 'failed' };

/** The copier the switch runs: start, stop (draining), and the backlog it leaves (HistoryCopier's interface). */
export interface Copier {
  start(): void;
  stop(): Promise<void>;
  backlog(): Promise<Backlog>;
}

export interface ThreadedCopierOptions extends CopierThreadInit {
  /** This thread's Redis client, for the backlog (two reads per stream). */
  client: Redis | Cluster;
  keys: Keyspace;
  log: LogFn;
  registry?: Registry;
}

/**
 * A HistoryCopier running in a worker thread. `start` starts the thread (once) and its copying;
 * `stop` asks it to drain and close, waiting STOP_WAIT_MS at most before terminating it (what it
 * had read and not acknowledged stays pending in Redis for the next start). A thread that exits
 * while running is logged and started again after RESTART_DELAY_MS, twice that after a second
 * death in a row, and so on up to RESTART_DELAY_MAX_MS.
 */
export class ThreadedCopier implements Copier {
  private worker: Worker | null = null;
  private running = false;
  private restartTimer: NodeJS.Timeout | null = null;
  /** Deaths of the thread since it last copied something. */
  private deaths = 0;
  private readonly observer: CopierObserver | null;

  constructor(private readonly o: ThreadedCopierOptions) {
    this.observer = o.registry === undefined ? null : copierMetrics(o.registry, () => this.backlog());
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.spawn();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.restartTimer !== null) { clearTimeout(this.restartTimer); this.restartTimer = null; }
    const w = this.worker;
    if (w === null) return;
    this.worker = null;
    let timer: NodeJS.Timeout | undefined;
    const stopped = new Promise<void>((resolve) => {
      w.on('message', (m: FromCopierThread) => { if (m.t === 'stopped') resolve(); });
      w.once('exit', () => resolve());
      timer = setTimeout(resolve, STOP_WAIT_MS);
    });
    w.postMessage({ t: 'stop' } satisfies ToCopierThread);
    await stopped;
    clearTimeout(timer);
    await w.terminate();
  }

  backlog(): Promise<Backlog> {
    return streamBacklog(this.o.client, this.o.keys, Date.now());
  }

  private spawn(): void {
    // Built code runs dist/history/copier-worker.js; from the TypeScript sources (tests, tools
    // under tsx) an entry that registers tsx in the thread first (loader hooks do not follow it).
    const fromSource = import.meta.url.endsWith('.ts');
    const init: CopierThreadInit = {
      redis: this.o.redis, database: this.o.database, groups: this.o.groups, windows: this.o.windows,
      ...(this.o.intervalMs === undefined ? {} : { intervalMs: this.o.intervalMs }),
      ...(this.o.batchMax === undefined ? {} : { batchMax: this.o.batchMax }),
    };
    const w = new Worker(new URL(fromSource ? './copier-worker-from-source.mjs' : './copier-worker.js', import.meta.url), { workerData: init, name: 'history-copier' });
    this.worker = w;
    w.on('message', (m: FromCopierThread) => this.received(w, m));
    w.on('error', (err) => this.o.log('error', 'history copier thread failed', { error: String(err.message).slice(0, 200) }));
    w.on('exit', (code) => {
      if (this.worker !== w) return;
      this.worker = null;
      if (!this.running) return;
      const delayMs = Math.min(RESTART_DELAY_MS * 2 ** Math.min(this.deaths, 10), RESTART_DELAY_MAX_MS);
      this.deaths++;
      this.o.log('error', 'history copier thread exited: starting it again', { exitCode: code, inMs: delayMs });
      this.restartTimer = setTimeout(() => { this.restartTimer = null; if (this.running) this.spawn(); }, delayMs);
      this.restartTimer.unref();
    });
  }

  private received(w: Worker, m: FromCopierThread): void {
    switch (m.t) {
      case 'ready': if (this.running && this.worker === w) w.postMessage({ t: 'start' } satisfies ToCopierThread); return;
      case 'log': this.o.log(m.level, m.msg, m.fields); return;
      case 'copied': this.deaths = 0; this.observer?.copied(m.journalEntries, m.records, m.batchSeconds, m.delaysSeconds); return;
      case 'failed': this.observer?.failed(); return;
      case 'stopped': return;
    }
  }
}

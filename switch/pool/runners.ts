// Where batches are decided. PoolRunner: piscina worker threads, each with its own Redis
// connection (the default placement). InlineRunner: the main thread decides and owns Redis
// (the placement measured against it in docs/architecture.md; also handy for tools).
import { Piscina } from 'piscina';
import type { Redis, Cluster } from 'ioredis';
import type { Registry } from 'prom-client';
import type { BatchRunner, RunResult } from './dispatcher.js';
import { packFrames, unpackFrames } from './packing.js';
import type { WorkerInit, WorkerResult } from './worker.js';
import { createContext, type ProcessContext } from '../process/context.js';
import { processBatch } from '../process/batch.js';
import { ProgramTable } from '../../stores/programs.js';
import { logger } from '../../log/index.js';

export interface PoolOptions {
  threads: number;
  /** Piscina task queue bound; the listener's in-flight limits keep it far below this. */
  maxQueue: number;
  /** 'sync' parks an idle worker (cheapest dispatch); 'async' keeps its event loop serviced between tasks. */
  atomics: 'sync' | 'async' | 'disabled';
  /** Batches one worker runs at once (they overlap while waiting for Redis). */
  concurrentTasksPerWorker: number;
  init: WorkerInit;
}

export class PoolRunner implements BatchRunner {
  readonly pool: Piscina;
  malformedDropped = 0;

  constructor(o: PoolOptions) {
    // Built code runs dist/switch/pool/worker.js. Tests and tools run the TypeScript sources
    // through tsx, whose loader hooks do not follow a worker thread: see worker-from-source.mjs.
    const fromSource = import.meta.url.endsWith('.ts');
    this.pool = new Piscina({
      filename: new URL(fromSource ? './worker-from-source.mjs' : './worker.js', import.meta.url).href,
      minThreads: o.threads,
      maxThreads: o.threads,
      maxQueue: o.maxQueue,
      idleTimeout: 2 ** 31 - 1,
      // A batch spends most of its time waiting for Redis, not computing: a worker must hold many
      // batches at once or they queue behind each other's round trips (measured: with 4, the pool
      // saturated near 1,000 batches/s while the worker threads sat idle).
      concurrentTasksPerWorker: o.concurrentTasksPerWorker,
      atomics: o.atomics,
      workerData: o.init,
    });
    // A worker that dies is replaced by piscina; its batch fails and is answered 96 by the
    // dispatcher. The error must not take the process down.
    this.pool.on('error', (err: Error) => {
      logger.error({ error: err.message.slice(0, 200) }, 'worker thread failed');
    });
  }

  /**
   * Resolves when the workers have loaded (each opens its Redis connection and the ledger's
   * scripts at start-up), so the switch does not report healthy before it can decide.
   */
  async ready(): Promise<void> {
    const n = this.pool.options.maxThreads;
    await Promise.all(Array.from({ length: n }, () => this.run([])));
  }

  async run(frames: readonly Buffer[]): Promise<RunResult> {
    const packed = packFrames(frames);
    const r = (await this.pool.run(packed, { transferList: [packed.data.buffer as ArrayBuffer] })) as WorkerResult;
    this.malformedDropped += r.malformedDropped;
    return { frames: unpackFrames(r), codes: r.codes, dropped: r.dropped, events: r.events };
  }

  get queueSize(): number { return this.pool.queueSize; }
  get utilization(): number { return this.pool.utilization; }

  async close(): Promise<void> { await this.pool.close({ force: false }); }
}

export class InlineRunner implements BatchRunner {
  malformedDropped = 0;
  private constructor(private readonly ctx: ProcessContext) {}

  static async create(init: Omit<WorkerInit, 'redisUrl' | 'redisSocket' | 'redisCluster'>, redis: Redis | Cluster, registry?: Registry): Promise<InlineRunner> {
    const ctx = await createContext({
      dialect: init.dialect, redis, programs: new ProgramTable(init.programs), cardIndexKey: Buffer.from(init.cardIndexKey), holdCoalescing: init.holdCoalescing, cardCache: init.cardCache, keys: init.keys,
      ...(registry === undefined ? {} : { registry }),
    });
    return new InlineRunner(ctx);
  }

  async run(frames: readonly Buffer[]): Promise<RunResult> {
    const counters = { malformedDropped: 0 };
    const out = await processBatch(this.ctx, frames, counters);
    this.malformedDropped += counters.malformedDropped;
    return out;
  }

  async close(): Promise<void> { await this.ctx.partners.close(); /* the caller owns the Redis connection */ }
}

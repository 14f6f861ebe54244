// A piscina worker: owns its own Redis connection and decides whole batches. A task is one batch
// of frames packed into one byte array; the answer is one byte array of framed responses.
import { workerData } from 'node:worker_threads';
import { connectRedis } from '../../stores/redis.js';
import { createContext } from '../process/run/context.js';
import { processBatch, type BatchCounters, type BatchOutput, type ProcessedEvent } from '../process/batch.js';
import { ProgramTable, type Program } from '../../stores/programs.js';
import { packFrames, unpackFrames, type PackedFrames } from './packing.js';
import type { KeySet } from '../../cardauth/keys.js';

export interface WorkerInit {
  redisUrl: string | null;
  /** The managed Redis's Unix socket, preferred over redisUrl when set. */
  redisSocket: string | null;
  redisCluster: string | null;
  dialect: '1987' | '2003';
  programs: Program[];
  panIndexKey: Uint8Array;
  holdCoalescing: boolean;
  /** CARD_CACHE (ProcessContext.guardedHolds). */
  cardCache: boolean;
  /** The card keys per program (KEYS_FILE or the development set): each thread builds its own key store on them. */
  keys: KeySet;
}

export interface WorkerResult extends PackedFrames { codes: string[]; dropped: Array<string | null>; events: ProcessedEvent[]; faults: BatchOutput['faults']; malformedDropped: number }

const init = workerData as WorkerInit;
const redis = connectRedis({ url: init.redisUrl, cluster: init.redisCluster, socketPath: init.redisSocket });
const ctx = await createContext({
  dialect: init.dialect, redis, programs: new ProgramTable(init.programs), panIndexKey: Buffer.from(init.panIndexKey), holdCoalescing: init.holdCoalescing, cardCache: init.cardCache, keys: init.keys,
});

export default async function run(task: PackedFrames): Promise<WorkerResult> {
  const counters: BatchCounters = { malformedDropped: 0 };
  const out = await processBatch(ctx, unpackFrames(task) as Buffer[], counters);
  const packed = packFrames(out.frames);
  return { data: packed.data, offsets: packed.offsets, codes: out.codes, dropped: out.dropped, events: out.events, faults: out.faults, malformedDropped: counters.malformedDropped };
}

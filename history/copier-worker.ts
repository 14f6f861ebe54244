// The history copier's thread (history/copier-thread.ts starts it): a HistoryCopier with its own
// Redis connection and its own PostgreSQL pool, so that reading the streams, building a batch's
// statement and settling it in Redis never runs on the event loop that answers the network. It
// reports its log lines and metrics to the thread that started it, and obeys its start and stop.
import { parentPort, workerData } from 'node:worker_threads';
import { Keyspace } from '../ledger/keys.js';
import { connectRedis } from '../stores/redis.js';
import { HistoryCopier } from './copier.js';
import { connectionLostLog, historyPool } from './db.js';
import type { LogFn } from '../log/index.js';
import type { CopierThreadInit, FromCopierThread, ToCopierThread } from './copier-thread.js';

const init = workerData as CopierThreadInit;
const port = parentPort!;
const post = (m: FromCopierThread): void => port.postMessage(m);

const log: LogFn = (level, msg, fields) => post({ t: 'log', level, msg, ...(fields === undefined ? {} : { fields }) });
const redis = connectRedis(init.redis);
const pool = historyPool(init.database, connectionLostLog(log));
const copier = new HistoryCopier({
  redis, pool, keys: new Keyspace(init.groups), windows: init.windows,
  ...(init.intervalMs === undefined ? {} : { intervalMs: init.intervalMs }),
  ...(init.batchMax === undefined ? {} : { batchMax: init.batchMax }),
  log,
  observer: {
    copied: (journalEntries, records, batchSeconds, delaysSeconds) => post({ t: 'copied', journalEntries, records, batchSeconds, delaysSeconds: Float64Array.from(delaysSeconds) }),
    failed: () => post({ t: 'failed' }),
  },
});

port.on('message', (m: ToCopierThread) => {
  if (m.t === 'start') { copier.start(); return; }
  // Stop: drain (HistoryCopier.stop), then close the connections, then say so.
  void copier.stop().catch(() => undefined).then(async () => {
    await Promise.race([pool.end().catch(() => undefined), new Promise((r) => setTimeout(r, 2000).unref())]);
    redis.disconnect();
    post({ t: 'stopped' });
  });
});
post({ t: 'ready' });

// One way to connect to Redis for every part of the switch: a single node (REDIS_URL) or a
// cluster (REDIS_CLUSTER seed list). Auto-pipelining sends the commands issued in one event-loop
// turn as one write, which is how a batch of holds becomes one round trip.
import { Redis, Cluster } from 'ioredis';
import { logger } from '../log/index.js';

/**
 * Where Redis is: a URL (REDIS_URL), a cluster seed list (REDIS_CLUSTER), or the Unix socket of the
 * managed server (preferred over its URL: a write on a Unix socket costs a fraction of one on TCP
 * loopback, and every decision writes to Redis).
 */
export interface RedisTarget { url: string | null; cluster: string | null; socketPath?: string | null }

export const REDIS_COMMAND_TIMEOUT_MS = 2000;

/** Connection errors are retried by ioredis; they are logged at most once per interval, not per attempt. */
const ERROR_LOG_INTERVAL_MS = 5000;

function quietErrors(client: Redis | Cluster): Redis | Cluster {
  let last = 0;
  client.on('error', (err: Error) => {
    const now = Date.now();
    if (now - last < ERROR_LOG_INTERVAL_MS) return;
    last = now;
    logger.warn({ error: err.message.slice(0, 200) }, 'redis connection error');
  });
  return client;
}

export function connectRedis(t: RedisTarget): Redis | Cluster {
  const common = {
    enableAutoPipelining: true,
    maxRetriesPerRequest: 2,
    commandTimeout: REDIS_COMMAND_TIMEOUT_MS,
    enableOfflineQueue: true,
  };
  if (t.cluster) {
    const nodes = t.cluster.split(',').map((hp) => {
      const [host, port] = hp.trim().split(':');
      return { host: host || '127.0.0.1', port: Number(port) || 6379 };
    });
    return quietErrors(new Cluster(nodes, { enableAutoPipelining: true, redisOptions: common, scaleReads: 'master' }));
  }
  if (t.socketPath) return quietErrors(new Redis({ ...common, path: t.socketPath }));
  return quietErrors(new Redis(t.url ?? 'redis://127.0.0.1:6379', common));
}

/**
 * Whether Redis is full: on some master, the memory maxmemory counts (used_memory less
 * mem_not_counted_for_evict) has reached maxmemory, so that writes are refused (OOM). Never full
 * without a maxmemory. Throws when Redis cannot be read.
 */
export async function redisFull(client: Redis | Cluster): Promise<boolean> {
  const nodes: Redis[] = client instanceof Cluster ? client.nodes('master') : [client];
  for (const node of nodes) {
    const info = await node.info('memory');
    const field = (name: string): number => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1] ?? 0);
    const max = field('maxmemory');
    if (max > 0 && field('used_memory') - field('mem_not_counted_for_evict') >= max) return true;
  }
  return false;
}

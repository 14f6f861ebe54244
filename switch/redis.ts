// One way to connect to Redis for every part of the switch: a single node (REDIS_URL) or a
// cluster (REDIS_CLUSTER seed list). Auto-pipelining sends the commands issued in one event-loop
// turn as one write, which is how a batch of holds becomes one round trip.
import { Redis, Cluster } from 'ioredis';

export interface RedisTarget { url: string | null; cluster: string | null }

export const REDIS_COMMAND_TIMEOUT_MS = 2000;

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
    return new Cluster(nodes, { enableAutoPipelining: true, redisOptions: common, scaleReads: 'master' });
  }
  return new Redis(t.url ?? 'redis://127.0.0.1:6379', common);
}

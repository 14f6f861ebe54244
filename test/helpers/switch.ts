// A whole switch in this process on random ports, against a real redis-server of its own.
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../app/config.js';
import { startSwitch, type Placement, type RunningSwitch } from '../../app/start.js';
import { derive } from '../../stores/secrets.js';
import { startTestRedis, type TestRedis } from './redis.js';

interface Teardown { teardown(fn: () => unknown): void }

export interface TestSwitch { app: RunningSwitch; redis: TestRedis; logs: string[] }

export async function startTestSwitch(t: Teardown, o: { env?: Record<string, string>; placement?: Placement; masterSecret?: Buffer } = {}): Promise<TestSwitch> {
  const redis = await startTestRedis(t);
  const logs: string[] = [];
  const config = loadConfig({ ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: redis.url, WORKERS: '2', ...o.env });
  const app = await startSwitch({
    config,
    placement: o.placement ?? 'workers',
    secrets: derive(o.masterSecret ?? randomBytes(32), 'env'),
    log: (level, msg, fields) => { logs.push(JSON.stringify({ level, msg, ...fields })); },
  });
  t.teardown(() => app.stop());
  return { app, redis, logs };
}

// A real redis-server on a random loopback port in a fresh temp dir, stopped by the test's teardown.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startManagedRedis, type AppendFsync, type ManagedRedis } from '../../ledger/redis-server.js';

export interface TestRedis extends ManagedRedis { client: Redis }

interface Teardown { teardown(fn: () => unknown): void }

export async function startTestRedis(t: Teardown, opts: { appendfsync?: AppendFsync; dir?: string; extraArgs?: string[] } = {}): Promise<TestRedis> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'antaca-redis-'));
  const server = await startManagedRedis({ dir, appendfsync: opts.appendfsync ?? 'everysec', extraArgs: opts.extraArgs ?? [] });
  const client = new Redis(server.url, { maxRetriesPerRequest: 1, lazyConnect: false });
  // Tests that stop this server on purpose expect the client's reconnect errors.
  client.on('error', () => undefined);
  t.teardown(async () => {
    client.disconnect();
    await server.stop();
    if (!opts.dir) rmSync(dir, { recursive: true, force: true });
  });
  return Object.assign(server, { client });
}

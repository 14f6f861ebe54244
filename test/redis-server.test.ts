import t from 'tap';
import { startTestRedis } from './helpers/redis.js';

t.test('a private redis-server starts on a random port with AOF and answers', async (t) => {
  const r = await startTestRedis(t, { appendfsync: 'always' });
  t.equal(await r.client.ping(), 'PONG');
  const cfg = await r.client.config('GET', 'appendfsync');
  t.same(cfg, ['appendfsync', 'always']);
});

t.test('a redis-server this process left running on the same data dir is stopped before a new one starts', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startManagedRedis } = await import('../ledger/redis-server.js');
  const dir = mkdtempSync(join(tmpdir(), 'antaca-takeover-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startManagedRedis({ dir, appendfsync: 'always' });
  const second = await startManagedRedis({ dir, appendfsync: 'always' });
  t.teardown(() => second.stop());
  let firstAlive = true;
  try { process.kill(first.pid, 0); } catch { firstAlive = false; }
  t.notOk(firstAlive, 'the orphan was stopped');
  t.not(second.pid, first.pid);
});

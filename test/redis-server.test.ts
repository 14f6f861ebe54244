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

t.test('the managed redis-server also listens on a Unix socket in its data dir, which the switch connects through', async (t) => {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { startManagedRedis, socketPathIn } = await import('../ledger/redis-server.js');
  const { connectRedis } = await import('../stores/redis.js');
  const dir = mkdtempSync(join(tmpdir(), 'antaca-sock-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const r = await startManagedRedis({ dir, appendfsync: 'always' });
  t.teardown(() => r.stop());
  t.equal(r.socketPath, join(dir, 'redis.sock'));
  const client = connectRedis({ url: r.url, cluster: null, socketPath: r.socketPath });
  t.teardown(() => client.disconnect());
  t.equal(await client.ping(), 'PONG');
  t.match(await (client as import('ioredis').Redis).client('INFO'), /addr=\/.*redis\.sock/, 'connected through the socket, not TCP');
  t.equal(socketPathIn('/' + 'd'.repeat(120)), null, 'a path longer than a socket allows: TCP only');
});

import t from 'tap';
import { startTestRedis } from './helpers/redis.js';

t.test('a private redis-server starts on a random port with AOF and answers', async (t) => {
  const r = await startTestRedis(t, { appendfsync: 'always' });
  t.equal(await r.client.ping(), 'PONG');
  const cfg = await r.client.config('GET', 'appendfsync');
  t.same(cfg, ['appendfsync', 'always']);
});

// Redis goes away under a running switch: requests are answered 96 (system error) within the
// Redis command timeout, /health says 503, the process stays up, and service resumes when Redis
// is back on the same address.
import t from 'tap';
import { startTestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { startManagedRedis } from '../ledger/redis-server.js';

const auth = (stan: string): IsoJson => ({
  0: '0100', 2: '5557700000000018', 3: '000000', 4: '000000000100', 7: '1125101500', 11: stan,
  14: '3012', 32: '123456', 41: 'TERM0001', 49: '978',
} as IsoJson);

t.test('Redis down: 96, health 503, no crash; Redis back: service resumes', async (t) => {
  const s = await startTestSwitch(t);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  t.equal((await c.request(auth('000001')))['39'], '14', 'up: an unknown card is declined normally');

  await s.redis.kill9();
  const r = await c.request(auth('000002'), 15_000);
  t.equal(r['39'], '96', 'Redis gone: system error, not silence');
  const h = await fetch(`http://127.0.0.1:${s.app.httpPort}/health`);
  t.equal(h.status, 503, 'health reports the outage');
  t.equal(s.app.listenerStats().inflight, 0, 'nothing stuck in flight');

  const back = await startManagedRedis({ dir: s.redis.dir, port: s.redis.port, appendfsync: 'everysec' });
  t.teardown(() => back.stop());
  let code = '';
  for (let i = 0; i < 40 && code !== '14'; i++) {
    code = (await c.request(auth(String(100 + i).padStart(6, '0')), 15_000))['39'] ?? '';
    if (code !== '14') await new Promise((res) => setTimeout(res, 250));
  }
  t.equal(code, '14', 'Redis back: decisions resume on the same connection');
});

// `ledger:check` as a command: the report on stdout, exit 0 when the ledger is sound, 1 when an
// invariant is broken, 2 when Redis cannot be reached.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { Ledger } from '../ledger/index.js';
import { startTestRedis } from './helpers/redis.js';
import { freePort } from '../ledger/redis-server.js';

function runCheck(env: Record<string, string>): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, ['--import', 'tsx', 'ledger/check.ts'], { env: { ...process.env, ...env, REDIS_CLUSTER: '' }, encoding: 'utf8' });
  return { status: r.status, out: r.stdout + r.stderr };
}

t.test('ledger:check exit codes and report', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  const ub = (await ledger.createUserBalance({ customerId: 'c', currency: 'EUR', configId: 'x' })).id;
  await ledger.post({ type: 'TOPUP', idempotencyKey: 't', txId: 't', balanceId: ub, amountMinor: 500, partnerId: null });
  const ok = runCheck({ REDIS_URL: r.url });
  t.equal(ok.status, 0);
  t.match(ok.out, /ledger check: OK/);
  t.match(ok.out, /EUR\s+500\s+0\s+0\s+0\s+-500\s+0\s+0/);
  await r.client.hincrby(`{g00}:ub:${ub}`, 'b', 3);
  const bad = runCheck({ REDIS_URL: r.url });
  t.equal(bad.status, 1);
  t.match(bad.out, /FAILED/);
  t.match(bad.out, /blocked 3 but open holds total 0/);
  const down = runCheck({ REDIS_URL: `redis://127.0.0.1:${await freePort()}` });
  t.equal(down.status, 2);
  t.match(down.out, /cannot reach Redis/);
});

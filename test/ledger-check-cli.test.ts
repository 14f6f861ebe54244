// `ledger:check` as a command: the report on stdout, exit 0 when the ledger is sound, 1 when an
// invariant is broken, 2 when Redis cannot be reached, or the history database the ledger was
// copied to is not the one found.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { Ledger } from '../ledger/index.js';
import { startTestRedis } from './helpers/redis.js';
import { freePort } from '../ledger/redis-server.js';
import { startTestSwitch } from './helpers/switch.js';
import { sharedTestDatabase } from './helpers/pg.js';

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

t.test('ledger:check of a switch\'s ledger adds the postings of its history database, and refuses another database', async (t) => {
  const s = await startTestSwitch(t);
  const ledger = await Ledger.open(s.redis.client);
  const ub = (await ledger.createUserBalance({ customerId: 'c', currency: 'EUR', configId: 'x' })).id;
  for (let i = 0; i < 5; i++) await ledger.post({ type: 'TOPUP', idempotencyKey: `t${i}`, txId: `t${i}`, balanceId: ub, amountMinor: 100, partnerId: null });
  for (let i = 0; i < 100 && (await s.app.history.copier.backlog()).entries > 0; i++) await new Promise((r) => setTimeout(r, 50));
  t.equal(await s.redis.client.xlen('{g00}:jnl'), 0, 'the journal has left Redis');
  const url = (s.app.history.pool.options as { connectionString: string }).connectionString;
  const ok = runCheck({ REDIS_URL: s.redis.url, DATABASE_URL: url });
  t.equal(ok.status, 0, ok.out);
  t.match(ok.out, /and its history database postgresql:\/\/antaca:\*\*\*@/, 'names the history database, password hidden');
  t.match(ok.out, /ledger check: OK/);
  t.match(ok.out, /EUR\s+500\s+0\s+0\s+0\s+-500\s+0\s+0/, 'the balances equal their archived postings');
  const other = runCheck({ REDIS_URL: s.redis.url, DATABASE_URL: await sharedTestDatabase() });
  t.equal(other.status, 2, 'another database: exit 2');
  t.match(other.out, /is not this ledger's/);
});

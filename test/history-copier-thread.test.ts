// The history copier in its thread (history/copier-thread.ts): it copies what the ledger writes,
// its metrics reach the registry of the thread that started it, a thread that dies is started
// again and goes on where it left off, and a stop ends it.
import t from 'tap';
import type { Worker } from 'node:worker_threads';
import { Registry } from 'prom-client';
import { Ledger } from '../ledger/index.js';
import { ThreadedCopier } from '../history/copier-thread.js';
import { ensureConsumerGroups } from '../history/copier.js';
import { historyPool } from '../history/db.js';
import { migrate } from '../history/migrate.js';
import { sharedTestDatabase } from './helpers/pg.js';
import { startTestRedis } from './helpers/redis.js';

t.test('copies in its own thread, reports to this one, comes back after its thread dies, stops', async (t) => {
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  const url = await sharedTestDatabase();
  const pool = historyPool({ url });
  t.teardown(() => pool.end());
  await migrate(pool);
  const ledger = await Ledger.open(redis.client);
  await ensureConsumerGroups(redis.client, ledger.keys);
  const lines: string[] = [];
  const registry = new Registry();
  const copier = new ThreadedCopier({
    redis: { url: redis.url, cluster: null }, database: { url }, groups: ledger.keys.groups, windows: ledger.windows,
    client: redis.client, keys: ledger.keys, log: (_level, msg) => { lines.push(msg); }, registry, intervalMs: 50,
  });
  t.teardown(() => copier.stop());
  const journalRows = async (): Promise<number> => Number((await pool.query('SELECT count(*)::int AS n FROM history.journal_entries')).rows[0].n);
  const drained = async (): Promise<void> => {
    for (let i = 0; i < 400 && (await copier.backlog()).entries > 0; i++) await new Promise((r) => setTimeout(r, 50));
  };
  const balance = await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' });
  const topUp = (n: number) => ledger.post({ type: 'TOPUP', idempotencyKey: `top-${n}`, txId: `top-${n}`, balanceId: balance.id, amountMinor: 100, partnerId: null });

  copier.start();
  for (let i = 0; i < 5; i++) await topUp(i);
  await drained();
  t.equal((await copier.backlog()).entries, 0, 'the backlog drains');
  const first = await journalRows();
  t.ok(first >= 5, `the journal entries are in the history database (${first})`);
  t.match(await registry.metrics(), /switch_history_copied_total\{kind="journal_entry"\} [1-9]/, 'the rows copied are counted in this thread\'s registry');

  // The thread dies (as on an uncaught error in it): it is started again and goes on.
  const worker = (copier as unknown as { worker: Worker }).worker;
  await worker.terminate();
  for (let i = 5; i < 10; i++) await topUp(i);
  for (let i = 0; i < 100 && (await copier.backlog()).entries > 0; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await copier.backlog()).entries, 0, 'what was written after its death is copied too');
  t.equal(await journalRows(), first + 5, 'each entry once');
  t.ok(lines.includes('history copier thread exited: starting it again'), 'the death is logged');

  await copier.stop();
  t.equal((copier as unknown as { worker: Worker | null }).worker, null, 'stopped: no thread left');
  await topUp(10);
  await new Promise((r) => setTimeout(r, 300));
  t.equal((await copier.backlog()).entries, 1, 'after a stop nothing is copied');
});

// kill -9 of redis-server (appendfsync always) during a run of holds and clearings, restart from
// the same directory: every approval and clearing the client saw is in the ledger, and the
// checker passes.
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { Ledger } from '../ledger/index.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { startManagedRedis } from '../ledger/redis-server.js';

t.test('approvals survive kill -9 with AOF always', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-crash-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startManagedRedis({ dir, appendfsync: 'always' });
  t.teardown(() => first.stop());
  const client = new Redis(first.url, { enableAutoPipelining: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  client.on('error', () => {});
  const ledger = await Ledger.open(client);
  const dep = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  await ledger.reloadPartnerBalance({ id: dep, amountMinor: 100_000_000, idempotencyKey: 'reload' });
  const users: string[] = [];
  for (let i = 0; i < 8; i++) {
    const id = (await ledger.createUserBalance({ customerId: 'c' + i, currency: 'EUR', configId: 'cfg' })).id;
    await ledger.post({ type: 'TOPUP', idempotencyKey: 'top' + i, txId: 'top', balanceId: id, amountMinor: 10_000_000, partnerId: null });
    users.push(id);
  }

  const approved: { ub: string; tx: string; amount: number }[] = [];
  const cleared: { ub: string; tx: string; amount: number }[] = [];
  let acks = 0;
  let stop = false;
  const worker = async (w: number) => {
    const ub = users[w]!;
    for (let n = 0; !stop; n++) {
      const tx = `w${w}-${n}`;
      const amount = 1 + ((w * 7919 + n * 104729) % 500);
      try {
        const h = await ledger.hold({ idempotencyKey: 'h' + tx, txId: tx, balanceId: ub, depositId: dep, amountMinor: amount, expiresAtMs: Date.now() + 86_400_000 });
        if (h.approved) approved.push({ ub, tx, amount });
        acks++;
        if (n % 2 === 0) {
          const c = await ledger.clear({ idempotencyKey: 'c' + tx, txId: tx, balanceId: ub, amountMinor: amount - 1 === 0 ? 1 : amount - 1 });
          if (c.ok) cleared.push({ ub, tx, amount });
          acks++;
        }
      } catch {
        return; // the server is gone: what was not acknowledged may or may not have happened
      }
    }
  };
  const running = Promise.all(users.map((_, w) => worker(w)));
  while (acks < 3000) await new Promise((r) => setTimeout(r, 5));
  await first.kill9();
  stop = true;
  await running;
  client.disconnect();
  t.ok(approved.length > 1000, `${approved.length} holds and ${cleared.length} clearings acknowledged before the kill`);

  const second = await startManagedRedis({ dir, appendfsync: 'always' });
  t.teardown(() => second.stop());
  const again = new Redis(second.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => again.disconnect());
  const after = await Ledger.open(again);
  let lost = 0;
  const clearedSet = new Set(cleared.map((c) => c.tx));
  for (const a of approved) {
    const tx = await after.getTransaction(a.ub, a.tx);
    if (tx === null || tx.amountMinor !== a.amount) lost++;
    else if (clearedSet.has(a.tx) && tx.status !== 'CLEARED') lost++;
  }
  t.equal(lost, 0, 'every acknowledged approval and clearing is in the ledger after restart');
  const report = await checkLedger(again);
  t.ok(report.ok, 'ledger check passes after the crash', { diagnostic: !report.ok, report: formatReport(report) });
});

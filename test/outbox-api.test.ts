// The /secure/outbox routes on both HTTP servers: 503 while the switch runs no outbox, and with
// one: pending and dead pages, one entry, and the retry of a dead entry (404 unknown, 409 not dead).
import t from 'tap';
import { Outbox, outboxId, type EnqueueInput } from '../adapters/outbox.js';
import { createRouter } from '../api/index.js';
import { createHttpServer } from '../api/http.js';
import { CardStore } from '../stores/cards.js';
import { CustomerStore } from '../stores/customers.js';
import { TransactionRecords } from '../stores/records.js';
import { startTestRedis } from './helpers/redis.js';
import { ApiClient, serverKinds, startApiSwitch, type ApiSwitch, type ServerKind } from './helpers/api.js';

let seq = 0;
const entry = (over: Partial<EnqueueInput> = {}): EnqueueInput => ({
  kind: 'force-credit', configId: '0019167984', method: 'POST', path: '/transactions/force-credit',
  body: { id: `tx-${++seq}`, amount: 100, currency: 'EUR', transactionData: { lastFourDigits: '1234' } },
  idempotencyKey: `api-outbox-${process.pid}-${seq}`, ...over,
});

/** The switch's own API, served again by a second server of the same kind with an outbox in its dependencies. */
async function apiWithOutbox(t: { teardown(fn: () => unknown): void }, s: ApiSwitch, kind: ServerKind, outbox: Outbox | null): Promise<ApiClient> {
  const { redis, ledger, programs, secrets, feed, keys, encryptionKey } = s.app;
  const cards = CardStore.fromSecrets(redis, secrets);
  const router = createRouter({
    redis, ledger, programs, cards, keys, encryptionKey, customers: new CustomerStore(redis, cards), records: new TransactionRecords(redis, ledger), feed, outbox,
    health: async () => ({ ok: true, detail: {} }),
    metrics: async () => ({ contentType: 'text/plain', body: '' }),
    registry: async () => s.app.metrics.registry, startedMs: Date.now(),
  }, { metrics: null, log: () => {} });
  const http = await createHttpServer(router, { choice: kind, tls: null, log: () => {} });
  const addr = await http.listen(0, '127.0.0.1');
  t.teardown(() => http.close());
  return new ApiClient(addr.port);
}

for (const { kind, skip } of serverKinds()) {
  t.test(`outbox routes (${kind})`, { skip }, async (t) => {
    const s = await startApiSwitch(t, kind);
    const bare = await apiWithOutbox(t, s, kind, null);
    for (const [method, path] of [['GET', '/secure/outbox'], ['GET', `/secure/outbox/${outboxId('x')}`], ['POST', `/secure/outbox/${outboxId('x')}/retry`]] as const) {
      const r = await bare.call(method, path);
      t.equal(r.status, 503, `${method} ${path} without an outbox: 503`);
      t.equal(r.json?.title, 'OUTBOX_UNAVAILABLE');
    }
    const mine = await s.api.get('/secure/outbox?state=pending');
    t.equal(mine.status, 200, "the switch's own API has its outbox");
    t.same(mine.json.items, [], 'nothing waiting');

    // A Redis of its own: the switch's sender would otherwise claim these entries (it runs on the switch's Redis).
    const own = await startTestRedis(t);
    const outbox = await Outbox.open(own.client, { backoffBaseMs: 5, backoffCapMs: 10, pollIntervalMs: 10 });
    t.teardown(() => outbox.stop());
    const api = await apiWithOutbox(t, s, kind, outbox);
    const dead = await outbox.enqueue(entry({ kind: 'force-debit', path: '/transactions/force-debit' }));
    outbox.start(async () => ({ ok: false, retryable: false, status: 422, error: 'HTTP 422' }));
    await outbox.flush(60_000);
    const p1 = await outbox.enqueue(entry({ createdAtMs: Date.now() - 2 }));
    const p2 = await outbox.enqueue(entry({ kind: 'notification', path: '/notifications/cardLocked', body: { cardId: 'c1', reason: 1 } }));

    const all = await api.get('/secure/outbox');
    t.equal(all.status, 200);
    t.same(all.json.items.map((e: { id: string }) => e.id), [p1.id, p2.id], 'pending entries, oldest first');
    t.equal(all.json.next, null);
    t.match(all.json.items[1], { kind: 'notification', state: 'pending', attempts: 0, maxAttempts: 5, method: 'POST', body: { cardId: 'c1', reason: 1 } });

    const page1 = await api.get('/secure/outbox?state=pending&limit=1');
    t.equal(page1.json.items.length, 1);
    t.type(page1.json.next, 'string');
    const page2 = await api.get(`/secure/outbox?limit=1&cursor=${encodeURIComponent(page1.json.next)}`);
    t.same(page2.json.items.map((e: { id: string }) => e.id), [p2.id], 'the cursor leads to the next page');
    t.equal(page2.json.next, null);

    const deadPage = await api.get('/secure/outbox?state=dead');
    t.same(deadPage.json.items.map((e: { id: string }) => e.id), [dead.id]);
    t.match(deadPage.json.items[0], { state: 'dead', deadReason: 'REJECTED', lastStatus: 422, attempts: 1 });

    for (const q of ['state=sent', 'limit=0', 'limit=101', 'cursor=bogus']) {
      const r = await api.get(`/secure/outbox?${q}`);
      t.equal(r.status, 400, `${q}: 400`);
      t.equal(r.json?.title, 'VALIDATION_ERROR');
    }

    const one = await api.get(`/secure/outbox/${p1.id}`);
    t.equal(one.status, 200);
    t.match(one.json, { id: p1.id, state: 'pending', kind: 'force-credit' });
    const unknown = await api.get(`/secure/outbox/${outboxId('nobody')}`);
    t.equal(unknown.status, 404);
    t.equal(unknown.json.title, 'OUTBOX_ENTRY_NOT_FOUND');

    const notDead = await api.post(`/secure/outbox/${p1.id}/retry`);
    t.equal(notDead.status, 409);
    t.equal(notDead.json.title, 'OUTBOX_ENTRY_NOT_DEAD');
    const noSuch = await api.post(`/secure/outbox/${outboxId('nobody')}/retry`);
    t.equal(noSuch.status, 404);
    t.equal(noSuch.json.title, 'OUTBOX_ENTRY_NOT_FOUND');
    const retried = await api.post(`/secure/outbox/${dead.id}/retry`);
    t.equal(retried.status, 200);
    t.match(retried.json, { id: dead.id, state: 'pending', attempts: 0, idempotencyKey: (await outbox.get(dead.id))?.idempotencyKey });
    t.equal((await api.get('/secure/outbox?state=dead')).json.items.length, 0, 'no longer among the dead letters');
    t.equal((await api.get('/secure/outbox')).json.items.length, 3, 'pending again');
  });
}

// The durable outbox (adapters/outbox.ts) against a real redis-server and a real HTTP receiver:
// delivery with the same X-Idempotency-Key until 2xx, backoff, dead letters and retry, leases
// between two outboxes, a switch process killed with -9 mid-attempt, redis-server killed with -9,
// flush, the card-data guard and the metrics.
import t from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { Registry } from 'prom-client';
import {
  Outbox, OutboxError, backoffCeilingMs, backoffDelayMs, outboxId, type AttemptEvent, type EnqueueInput, type OutboxOptions,
} from '../adapters/outbox.js';
import { containsPan, luhnValid } from '../adapters/card-data.js';
import { startManagedRedis } from '../ledger/redis-server.js';
import { startTestRedis } from './helpers/redis.js';
import { startTestCluster } from './helpers/cluster.js';
import { httpSend, startReceiver } from './helpers/receiver.js';

/** Fast settings for tests: short backoff and poll period (no assertion depends on them). */
const FAST: OutboxOptions = { backoffBaseMs: 5, backoffCapMs: 40, pollIntervalMs: 10 };

let seq = 0;
function entry(over: Partial<EnqueueInput> = {}): EnqueueInput {
  seq++;
  return {
    kind: 'force-credit', configId: '0019167984', method: 'POST', path: '/transactions/force-credit',
    body: { id: `tx-${seq}`, amount: 2233, currency: 'EUR', status: 'REVERSED', transactionData: { lastFourDigits: '1234' } },
    idempotencyKey: `key-${process.pid}-${seq}`, ...over,
  };
}

async function open(t: { teardown(fn: () => unknown): void }, redis: Redis, opts: OutboxOptions = {}): Promise<Outbox> {
  const o = await Outbox.open(redis, { ...FAST, ...opts });
  t.teardown(() => o.stop());
  return o;
}

/** Resolves when `pred` holds for an observed attempt. */
function observer(): { events: AttemptEvent[]; observe: (e: AttemptEvent) => void; until: (pred: (e: AttemptEvent) => boolean) => Promise<AttemptEvent> } {
  const events: AttemptEvent[] = [];
  const waiting: Array<{ pred: (e: AttemptEvent) => boolean; resolve: (e: AttemptEvent) => void }> = [];
  return {
    events,
    observe(e) {
      events.push(e);
      for (let i = waiting.length - 1; i >= 0; i--) if (waiting[i]!.pred(e)) { waiting[i]!.resolve(e); waiting.splice(i, 1); }
    },
    until(pred) {
      const hit = events.find(pred);
      return hit ? Promise.resolve(hit) : new Promise((resolve) => waiting.push({ pred, resolve }));
    },
  };
}

t.test('an entry is sent with its method, path, body and key; enqueueing it again keeps one entry', async (t) => {
  const redis = await startTestRedis(t);
  const rx = await startReceiver(t, () => 204);
  const ob = observer();
  const outbox = await open(t, redis.client, { observe: ob.observe });
  const e = entry();
  const r = await outbox.enqueue(e);
  t.same(r, { id: outboxId(e.idempotencyKey), created: true, state: 'pending' });
  const again = await outbox.enqueue(e);
  t.same(again, { id: r.id, created: false, state: 'pending' }, 'the same key again: the same entry');
  t.equal((await outbox.stats()).depth, 1, 'one entry');

  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === r.id && x.recorded === 'sent');
  t.equal(rx.received.length, 1);
  const got = rx.received[0]!;
  t.same({ key: got.key, method: got.method, path: got.path, body: got.body }, { key: e.idempotencyKey, method: 'POST', path: '/transactions/force-credit', body: e.body });
  const sent = await outbox.get(r.id);
  t.equal(sent?.state, 'sent', 'kept as sent for the retention time');
  t.equal(sent?.attempts, 1);
  t.equal(sent?.lastStatus, 204);
  t.ok((await redis.client.pttl(`{${groupTag(outbox.groupOf(r.id))}}:ob:e:${r.id}`)) > 0, 'the sent entry expires');
  t.same(await outbox.enqueue(e), { id: r.id, created: false, state: 'sent' }, 'enqueued again after it was sent: still one entry');
  const f = await outbox.flush(60_000);
  t.equal(f.attempted, 0, 'nothing due: nothing sent again');
  t.equal(rx.received.length, 1, 'delivered once');
  t.same(await outbox.stats(), { depth: 0, dead: 0, oldestPendingAgeMs: 0, attempts: {}, inflight: 0 });
  await t.rejects(outbox.enqueue({ ...e, body: { other: true } }), { code: 'OUTBOX_ERR_KEY_REUSED' }, 'the key with another body is refused');
});

t.test('failed attempts are retried with the same key until 2xx; backoff grows and is capped', async (t) => {
  const redis = await startTestRedis(t);
  const failures = 6;
  const rx = await startReceiver(t, (r) => (r.nth <= failures ? 503 : 200));
  const ob = observer();
  // random just under 1: each backoff is its ceiling (less 1 ms), so the schedule can be checked exactly.
  const random = () => 0.999999;
  const outbox = await open(t, redis.client, { observe: ob.observe, random, backoffBaseMs: 4, backoffCapMs: 24 });
  const e = entry({ kind: 'reversal', path: '/transactions/reversal' });
  const { id } = await outbox.enqueue(e);
  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'sent');

  t.equal(rx.received.length, failures + 1, `${failures} failures, then a 2xx`);
  t.ok(rx.received.every((r) => r.key === e.idempotencyKey), 'every attempt carries the same X-Idempotency-Key');
  const retries = ob.events.filter((x) => x.recorded === 'rescheduled');
  t.same(retries.map((x) => x.attempt), [1, 2, 3, 4, 5, 6]);
  const delays = retries.map((x) => x.delayMs);
  t.same(delays, [3, 7, 15, 23, 23, 23], 'ceilings 4, 8, 16, then capped at 24 (less the jitter)');
  for (const x of retries) t.equal(x.nextAttemptAtMs! - x.settledAtMs, x.delayMs, `attempt ${x.attempt}: due time recorded = settle time + backoff`);
  for (let i = 0; i < retries.length; i++) {
    t.ok(rx.received[i + 1]!.atMs >= retries[i]!.nextAttemptAtMs!, `attempt ${i + 2} not sent before it was due`);
  }
  const done = await outbox.get(id);
  t.equal(done?.attempts, failures + 1);
  t.equal(done?.maxAttempts, null, 'a reversal is retried without bound');
});

t.test('backoff formula: full jitter under min(cap, base * 2^(n-1))', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 60].map((n) => backoffCeilingMs(n, 1000, 300_000)), [1000, 2000, 4000, 8000, 16000, 32000, 300_000]);
  t.equal(backoffDelayMs(3, 1000, 300_000, 0), 0, 'random 0: no wait');
  t.equal(backoffDelayMs(3, 1000, 300_000, 0.5), 2000);
  for (let n = 1; n < 40; n++) {
    const d = backoffDelayMs(n, 1000, 300_000, Math.random());
    t.ok(d >= 0 && d < backoffCeilingMs(n, 1000, 300_000), `attempt ${n}: ${d} within [0, ceiling)`);
  }
});

t.test('a notification stops after 5 attempts in the dead letters; retry() sends it again with its key', async (t) => {
  const redis = await startTestRedis(t);
  let accept = false;
  const rx = await startReceiver(t, () => (accept ? 200 : 500));
  const ob = observer();
  const registry = new Registry();
  const outbox = await open(t, redis.client, { observe: ob.observe, registry });
  const e = entry({ kind: 'notification', path: '/notifications/cardLocked', body: { cardId: 'c-1', reason: 1 } });
  const { id } = await outbox.enqueue(e);
  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'dead');
  t.equal(rx.received.length, 5, 'five attempts, as the seed says');
  const dead = await outbox.get(id);
  t.match(dead, { state: 'dead', attempts: 5, maxAttempts: 5, deadReason: 'MAX_ATTEMPTS', lastStatus: 500, lastError: 'HTTP 500' });
  t.match(await outbox.stats(), { depth: 0, dead: 1 });
  const page = await outbox.list({ state: 'dead', limit: 10 });
  t.same(page.items.map((x) => x.id), [id], 'listed among the dead letters');
  t.equal((await outbox.list({ state: 'pending', limit: 10 })).items.length, 0);
  t.equal(await metricValue(registry, 'switch_outbox_dead_total', { kind: 'notification' }), 1);
  t.equal(await metricValue(registry, 'switch_outbox_attempts_total', { kind: 'notification', outcome: 'failure' }), 5);

  await outbox.stop();
  const pendingRetry = await outbox.retry(dead!.id);
  t.equal(pendingRetry.result, 'RETRIED');
  t.match(pendingRetry.entry, { state: 'pending', attempts: 0, idempotencyKey: e.idempotencyKey });
  t.equal((await outbox.retry(id)).result, 'NOT_DEAD', 'a pending entry can not be retried');
  t.equal((await outbox.retry(outboxId('never'))).result, 'NOT_FOUND');
  accept = true;
  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'sent');
  t.equal(rx.received.length, 6);
  t.ok(rx.received.every((r) => r.key === e.idempotencyKey), 'the same key after the retry');
  t.match(await outbox.stats(), { depth: 0, dead: 0 });
  t.equal(await metricValue(registry, 'switch_outbox_attempts_total', { kind: 'notification', outcome: 'success' }), 1);
});

t.test('a non-retryable answer sends the entry to the dead letters at once', async (t) => {
  const redis = await startTestRedis(t);
  const rx = await startReceiver(t, () => 422);
  const ob = observer();
  const outbox = await open(t, redis.client, { observe: ob.observe });
  const { id } = await outbox.enqueue(entry({ kind: 'force-debit', path: '/transactions/force-debit' }));
  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'dead');
  t.equal(rx.received.length, 1);
  t.match(await outbox.get(id), { state: 'dead', deadReason: 'REJECTED', lastStatus: 422, attempts: 1 });
});

t.test('two outboxes on one Redis never send one entry twice at the same time', async (t) => {
  const redis = await startTestRedis(t);
  // Every key fails once, then succeeds; answers are delayed a little so that attempts overlap.
  const rx = await startReceiver(t, (r) => new Promise((resolve) => setTimeout(() => resolve(r.nth === 1 ? 503 : 200), 3)));
  const ob = observer();
  const other = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => other.disconnect());
  const a = await open(t, redis.client, { observe: ob.observe, claimBatch: 8, maxInflight: 8 });
  const b = await open(t, other, { observe: ob.observe, claimBatch: 8, maxInflight: 8 });
  const n = 60;
  const keys: string[] = [];
  for (let i = 0; i < n; i++) { const e = entry(); keys.push(e.idempotencyKey); await a.enqueue(e); }
  a.start(httpSend(rx.url));
  b.start(httpSend(rx.url));
  let sent = 0;
  await ob.until((x) => x.recorded === 'sent' && ++sent === n);
  t.equal(rx.maxConcurrentPerKey(), 1, 'never two requests of one key in flight at once');
  t.ok(keys.every((k) => rx.byKey(k).length === 2), 'each entry: one failed attempt and one success, no more');
  t.equal(ob.events.filter((x) => x.recorded === 'lease-lost').length, 0, 'no lease was lost');
  t.equal((await a.stats()).depth, 0);
});

t.test('a switch killed with -9 mid-attempt: a new outbox sends the entry with the same key', async (t) => {
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  let after = false;
  // Two failures, then the third attempt is held open until the process sending it dies.
  const rx = await startReceiver(t, (r) => (after ? 200 : r.nth <= 2 ? 503 : 'hold'));
  const key = `crash-${process.pid}`;
  const child = spawn(process.execPath, ['--import=tsx', fileURLToPath(new URL('./helpers/outbox-switch.ts', import.meta.url))], {
    env: { ...process.env, REDIS_URL: redis.url, RECEIVER_URL: rx.url, OUTBOX_KEY: key, OUTBOX_LEASE_MS: '2000' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_c, s) => resolve(s)));
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL'); });
  const line = await new Promise<string>((resolve) => createInterface({ input: child.stdout! }).once('line', resolve));
  const id = line.split(' ')[1]!;
  t.equal(id, outboxId(key));
  await rx.waitFor((r) => r.key === key && r.nth === 3);
  child.kill('SIGKILL');
  t.equal(await exited, 'SIGKILL', 'the switch process died mid-attempt');
  const leased = await (await Outbox.open(redis.client)).get(id);
  t.match(leased, { state: 'pending', attempts: 3 }, 'the entry is still pending, its third attempt counted');
  t.ok(leased?.leasedUntilMs !== null, 'and still leased by the dead process');

  after = true;
  const ob = observer();
  const outbox = await open(t, redis.client, { observe: ob.observe });
  outbox.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'sent');
  const all = rx.byKey(key);
  t.equal(all.length, 4, 'sent once more after the lease of the dead process ran out');
  t.ok(all.every((r) => r.key === key && r.path === '/transactions/force-credit'), 'with the same key');
  t.match(await outbox.get(id), { state: 'sent', attempts: 4 });
});

t.test('an entry enqueued before redis-server is killed with -9 (appendfsync always) is there after the restart', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-outbox-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await startManagedRedis({ dir, appendfsync: 'always' });
  t.teardown(() => first.stop());
  const c1 = new Redis(first.url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  c1.on('error', () => {});
  const o1 = await Outbox.open(c1, FAST);
  const e = entry({ kind: 'clear', method: 'PUT', path: '/transactions/177482', body: { status: 'CLEARED', amount: 2233 } });
  const { id } = await o1.enqueue(e);
  await first.kill9();
  c1.disconnect();

  const second = await startManagedRedis({ dir, appendfsync: 'always', port: first.port });
  t.teardown(() => second.stop());
  const c2 = new Redis(second.url, { maxRetriesPerRequest: 1 });
  t.teardown(() => c2.disconnect());
  const rx = await startReceiver(t, () => 200);
  const ob = observer();
  const o2 = await open(t, c2, { observe: ob.observe });
  t.match(await o2.get(id), { state: 'pending', idempotencyKey: e.idempotencyKey, method: 'PUT', path: '/transactions/177482', attempts: 0 });
  t.equal((await o2.stats()).depth, 1);
  o2.start(httpSend(rx.url));
  await ob.until((x) => x.id === id && x.recorded === 'sent');
  t.same(rx.received.map((r) => [r.method, r.path, r.key]), [['PUT', '/transactions/177482', e.idempotencyKey]]);
});

t.test('flush() sends what is due, waits for the sends in flight, and stops', async (t) => {
  const redis = await startTestRedis(t);
  const rx = await startReceiver(t, (r) => (r.nth === 1 && rx.received.length === 1 ? 'hold' : 200));
  const outbox = await open(t, redis.client, { maxInflight: 1 });
  const first = await outbox.enqueue(entry());
  outbox.start(httpSend(rx.url));
  await rx.waitFor(() => true);
  const rest = [await outbox.enqueue(entry()), await outbox.enqueue(entry())];
  const flushing = outbox.flush(60_000);
  rx.releaseHeld(200);
  const f = await flushing;
  t.equal(f.sent, 3, 'the one in flight and the two due');
  t.equal(f.abandoned, 0);
  for (const r of [first, ...rest]) t.equal((await outbox.get(r.id))?.state, 'sent');
  t.equal((await outbox.stats()).depth, 0);

  const late = await outbox.enqueue(entry());
  t.equal((await outbox.flush(60_000)).attempted, 1, 'a second flush sends what was enqueued after the first');
  t.equal((await outbox.get(late.id))?.state, 'sent');
});

t.test('flush() at its deadline aborts the sends in flight; what failed stays pending', async (t) => {
  const redis = await startTestRedis(t);
  const rx = await startReceiver(t, () => 'hold');
  const outbox = await open(t, redis.client);
  const { id } = await outbox.enqueue(entry());
  outbox.start(httpSend(rx.url));
  await rx.waitFor(() => true);
  const f = await outbox.flush(50);
  t.match(f, { failed: 1, sent: 0, abandoned: 0 });
  const left = await outbox.get(id);
  t.match(left, { state: 'pending', attempts: 1, leasedUntilMs: null }, 'still pending, not leased, for the next start');
  t.equal((await outbox.stats()).depth, 1);
});

t.test('the card-data guard refuses a PAN or CVV in a body, and writes nothing', async (t) => {
  const redis = await startTestRedis(t);
  const outbox = await open(t, redis.client);
  const pan = '555770123456123' + luhnDigit('555770123456123');
  const notPan = pan.slice(0, 15) + String((Number(pan[15]) + 1) % 10);
  const refused: Array<[string, unknown]> = [
    ['a PAN in a string', { transactionData: { note: `card ${pan}` } }],
    ['a PAN as a number', { n: Number(pan) }],
    ['a PAN grouped by spaces', { note: `${pan.slice(0, 4)} ${pan.slice(4, 8)} ${pan.slice(8, 12)} ${pan.slice(12)}` }],
    ['a 19-digit PAN', { ref: '400000000000000000' + luhnDigit('400000000000000000') }],
    ['a cvv field', { cvv: '123' }],
    ['a cardNo field', { card: { cardNo: 'x' } }],
  ];
  for (const [what, body] of refused) {
    const err = await outbox.enqueue(entry({ body })).then(() => null, (e: unknown) => e);
    t.ok(err instanceof OutboxError && err.code === 'OUTBOX_ERR_CARD_DATA', `${what}: refused`);
    t.notMatch(String((err as Error).message), pan, `${what}: the error does not quote the digits`);
  }
  t.equal((await outbox.stats()).depth, 0, 'nothing was written');
  t.equal(containsPan(notPan), false, 'a 16-digit number that fails Luhn is not a PAN');
  await outbox.enqueue(entry({ body: { transactionId: notPan, lastFourDigits: pan.slice(-4), retrievalReferenceNumber: '443322110088' } }));
  t.equal((await outbox.stats()).depth, 1, 'last four digits and other numbers pass');
});

t.test('entries are checked, and the limits hold', async (t) => {
  const redis = await startTestRedis(t);
  const outbox = await open(t, redis.client, { groups: 1, maxPendingPerGroup: 2 });
  const bad: Array<[string, Partial<EnqueueInput>]> = [
    ['kind', { kind: 'debit' as never }], ['method', { method: 'GET' as never }], ['path', { path: 'no-slash' }],
    ['key', { idempotencyKey: 'has space' }], ['maxAttempts', { maxAttempts: 0 }], ['configId', { configId: '' }],
  ];
  for (const [what, over] of bad) await t.rejects(outbox.enqueue(entry(over)), { code: 'OUTBOX_ERR_INVALID_ENTRY' }, `bad ${what}`);
  await t.rejects(outbox.enqueue(entry({ body: { s: 'x'.repeat(70 * 1024) } })), { code: 'OUTBOX_ERR_BODY_TOO_LARGE' });
  await outbox.enqueue(entry());
  await outbox.enqueue(entry());
  await t.rejects(outbox.enqueue(entry()), { code: 'OUTBOX_ERR_FULL' }, 'the group is full');
  await t.rejects(Outbox.open(redis.client, { leaseMs: 1000, sendTimeoutMs: 1000 }), { code: 'OUTBOX_ERR_INVALID_OPTIONS' });
  t.equal((await Outbox.open(redis.client, { groups: 7 })).groups, 1, 'an existing outbox keeps its group count');
  t.throws(() => { outbox.start(async () => ({ ok: true })); outbox.start(async () => ({ ok: true })); }, { code: 'OUTBOX_ERR_STATE' });
  await outbox.stop();
});

t.test('list pages through pending entries oldest first, across groups', async (t) => {
  const redis = await startTestRedis(t);
  const outbox = await open(t, redis.client, { groups: 4 });
  const ids: string[] = [];
  for (let i = 0; i < 7; i++) ids.push((await outbox.enqueue(entry({ createdAtMs: 1_700_000_000_000 + i }))).id);
  const seen: string[] = [];
  let cursor: string | null = null;
  for (let pages = 0; pages < 10; pages++) {
    const page: Awaited<ReturnType<Outbox['list']>> = await outbox.list({ state: 'pending', limit: 3, cursor });
    seen.push(...page.items.map((x) => x.id));
    cursor = page.next;
    if (cursor === null) break;
  }
  t.same(seen, ids, 'every entry once, oldest first');
  t.ok(new Set(ids.map((id) => outbox.groupOf(id))).size > 1, 'the entries are spread over groups');
  const s = await outbox.stats(1_700_000_010_000);
  t.same(s, { depth: 7, dead: 0, oldestPendingAgeMs: 10_000, attempts: { 0: 7 }, inflight: 0 });
  await t.rejects(outbox.list({ state: 'pending', limit: 3, cursor: 'bogus' }), { code: 'OUTBOX_ERR_INVALID_OPTIONS' });
});

t.test('metrics: depth, oldest age, attempts and dead letters on the registry given', async (t) => {
  const redis = await startTestRedis(t);
  const rx = await startReceiver(t, (r) => (r.path.includes('force-debit') ? 422 : r.nth === 1 ? 503 : 200));
  const registry = new Registry();
  const ob = observer();
  const outbox = await open(t, redis.client, { registry, observe: ob.observe });
  await outbox.enqueue(entry({ createdAtMs: Date.now() - 5000 }));
  await outbox.enqueue(entry({ kind: 'force-debit', path: '/transactions/force-debit' }));
  t.equal(await metricValue(registry, 'switch_outbox_depth', {}), 2);
  t.ok((await metricValue(registry, 'switch_outbox_oldest_age_seconds', {}))! >= 5, 'the oldest entry is at least 5 s old');
  outbox.start(httpSend(rx.url));
  let settled = 0;
  await ob.until((x) => (x.recorded === 'sent' || x.recorded === 'dead') && ++settled === 2);
  t.equal(await metricValue(registry, 'switch_outbox_attempts_total', { kind: 'force-credit', outcome: 'failure' }), 1);
  t.equal(await metricValue(registry, 'switch_outbox_attempts_total', { kind: 'force-credit', outcome: 'success' }), 1);
  t.equal(await metricValue(registry, 'switch_outbox_attempts_total', { kind: 'force-debit', outcome: 'rejected' }), 1);
  t.equal(await metricValue(registry, 'switch_outbox_dead_total', { kind: 'force-debit' }), 1);
  t.equal(await metricValue(registry, 'switch_outbox_depth', {}), 0);
  t.equal(await metricValue(registry, 'switch_outbox_oldest_age_seconds', {}), 0);
  t.equal(await metricValue(registry, 'switch_outbox_dead', {}), 1);
  t.match(await registry.metrics(), /switch_outbox_attempts_total\{kind="force-credit",outcome="success"\} 1/);
});

t.test('on a 3-master Redis Cluster: entries in every group are enqueued, listed, sent and retried', async (t) => {
  const c = await startTestCluster(t);
  const rx = await startReceiver(t, (r) => (r.path.includes('force-debit') ? 422 : 200));
  const ob = observer();
  const outbox = await Outbox.open(c.client, { ...FAST, observe: ob.observe });
  t.teardown(() => outbox.stop());
  const ids = new Set<string>();
  const groups = new Set<number>();
  for (let i = 0; groups.size < outbox.groups && i < 2000; i++) {
    const e = entry();
    if (groups.has(outbox.groupOf(outboxId(e.idempotencyKey)))) continue;
    const { id } = await outbox.enqueue(e);
    ids.add(id);
    groups.add(outbox.groupOf(id));
  }
  t.equal(groups.size, outbox.groups, 'one entry in every group');
  t.equal((await outbox.list({ state: 'pending', limit: 100 })).items.length, ids.size);
  const rejected = await outbox.enqueue(entry({ kind: 'force-debit', path: '/transactions/force-debit' }));
  outbox.start(httpSend(rx.url));
  let settled = 0;
  await ob.until((x) => (x.recorded === 'sent' || x.recorded === 'dead') && ++settled === ids.size + 1);
  t.match(await outbox.stats(), { depth: 0, dead: 1 });
  rx.policy = () => 200;
  t.equal((await outbox.retry(rejected.id)).result, 'RETRIED');
  await ob.until((x) => x.id === rejected.id && x.recorded === 'sent');
  t.match(await outbox.stats(), { depth: 0, dead: 0 });
});

async function metricValue(registry: Registry, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const m = registry.getSingleMetric(name);
  if (m === undefined) return undefined;
  const v = (await m.get()).values.find((x) => Object.entries(labels).every(([k, want]) => x.labels[k] === want));
  return v?.value;
}

function luhnDigit(body: string): string {
  for (let d = 0; d < 10; d++) if (luhnValid(body + d)) return String(d);
  throw new Error('unreachable');
}

function groupTag(g: number): string {
  return g < 10 ? `g0${g}` : `g${g}`;
}

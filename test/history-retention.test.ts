// Hot state and history, with every window a few seconds long: what the switch answers and records
// reaches the history database, then leaves Redis (journal entries at once, finished transactions
// and records after REDIS_RETENTION, cached answers after DUPLICATE_WINDOW, reference indexes after
// REFERENCE_RETENTION), while the API lists the same transactions, in the same order and pages, and
// the ledger check counts the postings of both places. A clearing, reversal or repeat arriving after
// its window is treated as one whose original is unknown. Also: /health when Redis is full, and the
// schema migrations.
import t from 'tap';
import pg from 'pg';
import {
  assertLedgerSound, balance, f90, msg, newCard, send, startWorld, type World,
} from './helpers/e2e.js';
import { ApiClient } from './helpers/api.js';
import { sharedTestPostgres } from './helpers/pg.js';
import { migrate, loadMigrations } from '../history/migrate.js';
import { hasCode } from '../errors/index.js';

/** Waits until the copier has copied everything in the streams. */
export async function drained(w: World): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if ((await w.s.app.history.copier.backlog()).entries === 0) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('history backlog did not drain');
}

/** Every page of a listing, `limit` at a time. */
async function listAll(api: ApiClient, query: string, limit: number): Promise<{ items: Array<Record<string, unknown>>; pages: number }> {
  const items: Array<Record<string, unknown>> = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const r = await api.get(`/secure/transactions?${query}&limit=${limit}${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`);
    if (r.status !== 200) throw new Error(`listing answered ${r.status}: ${r.text}`);
    items.push(...(r.json.items as Array<Record<string, unknown>>));
    cursor = r.json.next as string | null;
    pages++;
  } while (cursor !== null && pages < 100);
  return { items, pages };
}

/** Every key of the switch's Redis, by what it is (the part after the slot tag, up to the next colon). */
async function keyKinds(w: World): Promise<Map<string, string[]>> {
  const out = new Map<string, string[]>();
  let cursor = '0';
  do {
    const [next, keys] = await w.s.redis.client.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const rest = k.startsWith('{') ? k.slice(k.indexOf('}') + 2) : k;
      const kind = rest.split(':')[0]!;
      out.set(kind, [...(out.get(kind) ?? []), k]);
    }
  } while (cursor !== '0');
  return out;
}

// The copier in its own thread, as the switch runs it by default.
const WINDOWS = { REDIS_RETENTION: '2s', DUPLICATE_WINDOW: '2s', REFERENCE_RETENTION: '3s', HISTORY_COPIER: 'thread' };

t.test('a transaction\'s whole life with windows of seconds: copied, trimmed, listed the same from both stores; late messages meet an unknown original', async (t) => {
  const w = await startWorld(t, '1987', WINDOWS);
  const api = new ApiClient(w.s.app.httpPort);
  const card = await newCard(w, 1, { topUpMinor: 100_000 });
  const auth = msg('0100', card, '000001', '00', 2_000);
  t.equal((await send(w, auth)).res['39'], '00', 'authorization approved');
  t.equal((await send(w, msg('0220', card, '000002', '00', 2_000, { 7: '1125101600', 90: f90(auth) }))).res['39'], '00', 'cleared');
  t.not((await send(w, msg('0100', card, '000003', '00', 99_999_999))).res['39'], '00', 'a decline');
  const auth2 = msg('0100', card, '000004', '00', 3_000);
  t.equal((await send(w, auth2)).res['39'], '00', 'a second authorization');
  t.equal((await send(w, msg('0400', card, '000005', '00', 3_000, { 7: '1125101700', 90: f90(auth2) }))).res['39'], '00', 'reversed');
  const open = msg('0100', card, '000006', '00', 500);
  t.equal((await send(w, open)).res['39'], '00', 'a hold left open');
  await new Promise((r) => setTimeout(r, 300)); // records written after the answers
  await drained(w);

  const before = await listAll(api, `cardId=${card.cardId}`, 2);
  t.equal(before.items.length, 6, 'every message of the card listed: three authorizations, a clearing, a decline, a reversal');
  const byBalanceBefore = await listAll(api, `balanceId=${card.balanceId}`, 3);
  const summaryBefore = (await api.get('/secure/summary')).json;

  const pool = w.s.app.history.pool;
  const inPg = await pool.query('SELECT count(*)::int AS n FROM history.records WHERE card_id = $1 AND NOT forgotten', [card.cardId]);
  t.equal(inPg.rows[0].n, 6, 'the history database holds every record of the card');
  const jnl = await w.s.redis.client.xlen('{g00}:jnl');
  t.equal(jnl, 0, 'journal entries left Redis once copied');

  // Past every window (and the copier's trimming cycle).
  await new Promise((r) => setTimeout(r, 4500));
  const kinds = await keyKinds(w);
  for (const kind of ['rec', 'recs', 'dup', 'rrn', 'oid', 'idem']) {
    t.same((kinds.get(kind) ?? []).filter((k) => !k.endsWith(':recs:log')), [], `no ${kind}: key left in Redis`);
  }
  t.equal(await w.s.redis.client.xlen('{g00}:recs:log'), 0, 'the record log is empty');
  const txs = kinds.get('tx') ?? [];
  t.equal(txs.length, 1, 'one transaction hash left: the open hold (hot state until it is finished)');
  t.match(txs[0], /\.000006\./);

  const after = await listAll(api, `cardId=${card.cardId}`, 2);
  t.same(after.items, before.items, 'the same objects, in the same order, from the history database');
  t.equal(after.pages, before.pages, 'and the same pages');
  t.same((await listAll(api, `balanceId=${card.balanceId}`, 3)).items, byBalanceBefore.items, 'by balance too');
  t.same((await api.get('/secure/summary')).json, summaryBefore, 'the summary is the same: the balances hold what was archived');
  for (const item of before.items) {
    const one = await api.get(`/secure/transactions/${item.id as string}`);
    t.equal(one.status, 200);
    t.same(one.json, item, `GET /secure/transactions/${(item.mti as string)} ${(item.id as string).slice(0, 8)}: the same object`);
  }
  const statusOf = (stan: string) => after.items.find((i) => i.mti === '0100' && String(i.externalTransactionId).includes(`.${stan}.`))?.status;
  t.equal(statusOf('000001'), 'CLEARED', 'the cleared authorization shows CLEARED (from the archived journal)');
  t.equal(statusOf('000004'), 'REVERSED', 'the reversed one REVERSED');
  t.equal(statusOf('000006'), 'AUTHORIZED', 'the open one AUTHORIZED');

  // Late messages: their originals have left Redis.
  const [avail0, blocked0] = (await balance(w, card))!;
  t.equal((await send(w, { ...auth, 0: '0101' })).res['39'], '00', 'a repeat after the duplicate window is decided again');
  t.same(await balance(w, card), [avail0 - 2_000, blocked0 + 2_000], 'and holds again: its first answer and transaction are forgotten');
  t.equal((await send(w, msg('0220', card, '000008', '00', 3_000, { 7: '1125101900', 90: f90(auth2) }))).res['39'], '00', 'a late clearing of the reversed authorization');
  t.same(await balance(w, card), [avail0 - 5_000, blocked0 + 2_000], 'is a forced post: the merchant is paid');
  t.equal((await send(w, msg('0400', card, '000007', '00', 3_000, { 7: '1125101800', 90: f90(auth2) }))).res['39'], '00', 'a late reversal is acknowledged');
  t.same(await balance(w, card), [avail0 - 5_000, blocked0 + 2_000], 'and moves nothing: its original is unknown');
  await new Promise((r) => setTimeout(r, 300));
  await drained(w);
  await assertLedgerSound(t, w);
});

t.test('an incremented authorization, once cleared, leaves Redis with its increments', async (t) => {
  const w = await startWorld(t, '1987', WINDOWS);
  const card = await newCard(w, 1, { topUpMinor: 100_000 });
  const pre = msg('0100', card, '000101', '00', 10_000, { 18: '7011' });
  const first = (await send(w, pre)).res;
  t.equal(first['39'], '00', 'a hotel pre-authorization');
  t.equal((await send(w, msg('0100', card, '000102', '00', 5_000, { 18: '7011', 90: f90(pre) }))).res['39'], '00', 'an increment');
  t.equal((await send(w, msg('0100', card, '000103', '00', 1_000, { 18: '7011', 90: f90(pre) }))).res['39'], '00', 'a second increment');
  t.equal((await send(w, msg('0220', card, '000104', '00', 16_000, { 18: '7011', 90: f90(pre), 38: String(first['38']) }))).res['39'], '00', 'cleared for the total');
  await new Promise((r) => setTimeout(r, 300));
  await drained(w);
  await new Promise((r) => setTimeout(r, 4500));
  t.same((await keyKinds(w)).get('tx') ?? [], [], 'no transaction hash left: the original and both increments went once copied');
  await assertLedgerSound(t, w);
});

t.test('/health: Redis out of memory answers 503 "redis": "full"; the history backlog is shown', async (t) => {
  const w = await startWorld(t, '1987');
  const api = new ApiClient(w.s.app.httpPort);
  const ok = await api.get('/health');
  t.equal(ok.status, 200);
  t.match(ok.json, { status: 'ok', redis: 'up', history: 'up', listener: 'up' });
  t.type(ok.json.historyBacklog?.entries, 'number', 'the backlog: entries');
  t.type(ok.json.historyBacklog?.oldestAgeSeconds, 'number', 'and the age of the oldest');
  const redis = w.s.redis.client;
  await redis.config('SET', 'maxmemory', '1');
  t.teardown(() => redis.config('SET', 'maxmemory', '0'));
  const full = await api.get('/health');
  t.equal(full.status, 503);
  t.match(full.json, { status: 'unavailable', redis: 'full' });
  await redis.config('SET', 'maxmemory', '0');
  t.equal((await api.get('/health')).status, 200, 'room again: 200');
});

t.test('schema migrations: versioned, forward-only, applied once', async (t) => {
  const server = await sharedTestPostgres();
  const pool = new pg.Pool({ connectionString: await server.newDatabase() });
  t.teardown(() => pool.end());
  const all = loadMigrations();
  t.ok(all.length >= 1 && all.every((m, i) => m.version === i + 1), 'numbered 001, 002, ... in history/migrations');
  t.same(await migrate(pool), all.map((m) => m.version), 'a new database gets every migration');
  t.same(await migrate(pool), [], 'a second start applies nothing');
  const v = await pool.query('SELECT version FROM history.schema_migrations ORDER BY version');
  t.same(v.rows.map((r) => r.version), all.map((m) => m.version));
  await pool.query(`INSERT INTO history.schema_migrations (version, name) VALUES (999, 'from-a-newer-switch')`);
  const err = await migrate(pool).then(() => null, (e: unknown) => e);
  t.ok(hasCode(err, 'SW_ERR_HISTORY_SCHEMA'), 'a newer schema is refused, never migrated back');
  t.match((err as Error).message, /schema version 999, newer than this switch's/);
});

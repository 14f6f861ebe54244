// Copying to the history database, exactly once, through the failures it must survive: the
// history database stopped and started mid-traffic, Redis restarted, and the switch killed with
// SIGKILL mid-copy. After each, nothing is missing (every journal entry ever written and every
// record is in the history database), nothing is there twice (each is keyed; the ledger check
// adds the postings of both places and finds every balance equal to them), and every answer given
// while the history database was down stands.
import t, { type Test } from 'tap';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { loadConfig } from '../app/config.js';
import { startSwitch, type RunningSwitch } from '../app/start.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { Ledger } from '../ledger/index.js';
import { startManagedRedis } from '../ledger/redis-server.js';
import { startManagedPostgres } from '../history/pg-server.js';
import { CardStore } from '../stores/cards.js';
import { derive } from '../stores/secrets.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { startTestPostgres } from './helpers/pg.js';
import { startTestRedis } from './helpers/redis.js';

const SECRET_HEX = 'cd'.repeat(32);
const secrets = derive(Buffer.from(SECRET_HEX, 'hex'), 'env');
const DEMO = '0019167984';

interface Card { pan: string; cardId: string; balanceId: string }

async function seedCards(redis: Redis, n: number, prefix: number): Promise<Card[]> {
  const ledger = await Ledger.open(redis);
  const cards = CardStore.fromSecrets(redis, secrets);
  const out: Card[] = [];
  for (let i = 0; i < n; i++) {
    const pan = '555770' + String(prefix).padStart(4, '0') + String(i).padStart(6, '0');
    const bal = await ledger.createUserBalance({ customerId: `hc-${prefix}-${i}`, currency: 'EUR', configId: DEMO });
    await ledger.post({ type: 'TOPUP', idempotencyKey: `hc-seed-${bal.id}`, txId: `hc-seed-${bal.id}`, balanceId: bal.id, amountMinor: 10_000_000, partnerId: null });
    const cardId = `hc-card-${prefix}-${i}`;
    await cards.put(pan, { id: cardId, customerId: `hc-${prefix}-${i}`, balanceId: bal.id, configId: DEMO, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
    out.push({ pan, cardId, balanceId: bal.id });
  }
  return out;
}

let stanSeq = 0;
function auth(card: Card): IsoJson {
  const stan = String(++stanSeq).padStart(6, '0');
  return {
    0: '0100', 2: card.pan, 3: '000000', 4: '000000000100', 7: '1125101500', 11: stan, 12: '101500', 13: '1125', 14: '3012',
    18: '5411', 22: '051', 32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  } as IsoJson;
}

/** `perCard` authorizations of every card at once; the answers' response codes. */
async function traffic(c: IsoClient, cards: Card[], perCard: number): Promise<string[]> {
  const reqs: IsoJson[] = [];
  for (let k = 0; k < perCard; k++) for (const card of cards) reqs.push(auth(card));
  return (await Promise.all(reqs.map((r) => c.request(r, 20_000)))).map((a) => a['39'] ?? '');
}

function startIn(t: { teardown(fn: () => unknown): void }, env: Record<string, string>): Promise<RunningSwitch> {
  const config = loadConfig({ ISO_PORT: '0', HTTP_PORT: '0', WORKERS: '2', ...env });
  return startSwitch({ config, placement: 'main', secrets, log: () => {} }).then((app) => { t.teardown(() => app.stop()); return app; });
}

/** Field of an XINFO STREAM answer. */
async function streamInfo(redis: Redis, key: string, field: string): Promise<number> {
  const info = await redis.xinfo('STREAM', key) as unknown[];
  for (let i = 0; i + 1 < info.length; i += 2) if (info[i] === field) return Number(info[i + 1]);
  throw new Error(`XINFO STREAM ${key}: no ${field}`);
}

/** Until every entry ever written to the streams is copied, acknowledged and deleted. */
async function drained(redis: Redis, timeoutMs = 60_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const [j, r, pj, pr] = await Promise.all([
      redis.xlen('{g00}:jnl'), redis.xlen('{g00}:recs:log'),
      redis.xpending('{g00}:jnl', 'history') as Promise<unknown[]>, redis.xpending('{g00}:recs:log', 'history') as Promise<unknown[]>,
    ]);
    if (j === 0 && r === 0 && Number(pj[0]) === 0 && Number(pr[0]) === 0) return;
    if (Date.now() > until) throw new Error(`not drained: ${j} journal, ${r} record log entries`);
    await new Promise((res) => setTimeout(res, 100));
  }
}

/**
 * Nothing missing, nothing twice: every journal entry ever added is a row, every record Redis still
 * holds (REDIS_RETENTION is 72 h here) is a row, and the ledger check, counting the postings of both
 * places, finds every balance equal to them.
 */
async function assertComplete(t: Test, app: RunningSwitch, redis: Redis): Promise<void> {
  const pool = app.history.pool;
  const added = await streamInfo(redis, '{g00}:jnl', 'entries-added');
  const rows = (await pool.query('SELECT count(*)::int AS n FROM history.journal_entries')).rows[0].n;
  t.equal(rows, added, `every journal entry ever written is in the history database (${added})`);
  const recIds: string[] = [];
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', '{g00}:rec:*', 'COUNT', 1000);
    cursor = next;
    recIds.push(...keys.map((k) => k.slice('{g00}:rec:'.length)));
  } while (cursor !== '0');
  const pgIds = (await pool.query('SELECT id::text FROM history.records WHERE NOT forgotten ORDER BY id')).rows.map((r) => r.id as string);
  t.same(pgIds, recIds.sort(), `every record is in the history database (${recIds.length})`);
  const report = await checkLedger(redis, app.history.reads);
  t.ok(report.ok, 'ledger check passes over Redis and the history database', report.ok ? {} : { report: formatReport(report) });
}

async function health(app: RunningSwitch): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await fetch(`http://127.0.0.1:${app.httpPort}/health`);
  return { status: r.status, body: await r.json() as Record<string, unknown> };
}

t.test('the history database stopped and started mid-traffic: authorization goes on, the backlog is shown, then drains', async (t) => {
  const pgs = await startTestPostgres(t);
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  const app = await startIn(t, { REDIS_URL: redis.url, DATABASE_URL: await pgs.newDatabase() });
  const cards = await seedCards(redis.client, 4, 1);
  const c = await IsoClient.connect(app.isoPort);
  t.teardown(() => c.close());

  t.same(new Set(await traffic(c, cards, 10)), new Set(['00']), 'approved while the history database is up');
  await pgs.server.stop();
  const during = await traffic(c, cards, 10);
  t.same(new Set(during), new Set(['00']), 'approved while it is down: authorization does not wait for history');
  await new Promise((r) => setTimeout(r, 1500));
  const down = await health(app);
  t.equal(down.status, 503, '/health: 503 while the history database is down');
  t.equal(down.body.history, 'down', 'naming it');
  t.ok(Number((down.body.historyBacklog as { entries: number }).entries) > 0, 'with the backlog waiting in Redis');
  const scrape = async (): Promise<string> => (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
  t.match(await scrape(), /switch_history_backlog_entries [1-9]/, '/metrics: the backlog');
  // The copier's thread reports a failed cycle once its statement has failed: waited for, a moment at most.
  let metrics = await scrape();
  for (let i = 0; i < 100 && !/switch_history_copy_failures_total [1-9]/.test(metrics); i++) { await new Promise((r) => setTimeout(r, 200)); metrics = await scrape(); }
  t.match(metrics, /switch_history_copy_failures_total [1-9]/, '/metrics: the failed copies');

  const again = await startManagedPostgres({ dir: pgs.dir, port: pgs.server.port, fsync: false });
  t.teardown(() => again.stop());
  t.same(new Set(await traffic(c, cards, 10)), new Set(['00']), 'approved after it is back');
  await drained(redis.client);
  let status = 0;
  for (let i = 0; i < 50 && status !== 200; i++) { status = (await health(app)).status; if (status !== 200) await new Promise((r) => setTimeout(r, 200)); }
  t.equal(status, 200, '/health: 200 once the backlog drained');
  await assertComplete(t, app, redis.client);
  const metricsAfter = await (await fetch(`http://127.0.0.1:${app.httpPort}/metrics`)).text();
  t.match(metricsAfter, /switch_history_copied_total\{kind="record"\} 120/, 'rows copied: 120 records');
  t.match(metricsAfter, /switch_history_copy_delay_seconds_count [1-9]/, 'copy delay observed');
  for (const card of cards) {
    const r = await fetch(`http://127.0.0.1:${app.httpPort}/secure/transactions?cardId=${card.cardId}&limit=100`);
    const items = (await r.json() as { items: Array<{ responseCode: string }> }).items;
    t.equal(items.length, 30, `${card.cardId}: every authorization listed, those answered while history was down too`);
  }
  await app.stop();
  await again.stop();
});

for (const copier of ['thread', 'main'] as const) t.test(`Redis restarted: the copier (HISTORY_COPIER=${copier}) picks up where it was; nothing missing, nothing twice`, async (t) => {
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  const pgs = await startTestPostgres(t);
  const app = await startIn(t, { REDIS_URL: redis.url, DATABASE_URL: await pgs.newDatabase(), HISTORY_COPIER: copier });
  const cards = await seedCards(redis.client, 4, 2);
  const c1 = await IsoClient.connect(app.isoPort);
  t.same(new Set(await traffic(c1, cards, 10)), new Set(['00']));
  c1.close();
  await redis.stop();
  const back = await startManagedRedis({ dir: redis.dir, port: redis.port, appendfsync: 'always' });
  t.teardown(() => back.stop());
  for (let i = 0; i < 100 && (await health(app)).status !== 200; i++) await new Promise((r) => setTimeout(r, 100));
  t.equal((await health(app)).status, 200, 'the switch is healthy again');
  const c2 = await IsoClient.connect(app.isoPort);
  t.teardown(() => c2.close());
  t.same(new Set(await traffic(c2, cards, 10)), new Set(['00']));
  await drained(redis.client);
  await assertComplete(t, app, redis.client);
  await app.stop();
  await back.stop();
});

t.test('HISTORY_COPIER other than thread or main: refused at start with one line naming it', async (t) => {
  t.throws(() => loadConfig({ HISTORY_COPIER: 'both' }), { code: 'SW_ERR_CONFIG', message: /HISTORY_COPIER/ });
});

t.test('the switch killed with SIGKILL mid-copy: the next one takes its pending entries over; nothing missing, nothing twice', async (t) => {
  const redis = await startTestRedis(t, { appendfsync: 'always' });
  const pgs = await startTestPostgres(t);
  const databaseUrl = await pgs.newDatabase();
  const cards = await seedCards(redis.client, 6, 3);
  const cwd = mkdtempSync(join(tmpdir(), 'antaca-hkill-'));
  t.teardown(() => rmSync(cwd, { recursive: true, force: true }));
  const main = new URL('../app/main.ts', import.meta.url).pathname;
  const child = spawn(process.execPath, [`--import=${import.meta.resolve('tsx')}`, main], {
    cwd, stdio: ['ignore', 'ignore', 'pipe'],
    env: { PATH: process.env.PATH ?? '', HOME: cwd, ISO_PORT: '0', HTTP_PORT: '0', REDIS_URL: redis.url, DATABASE_URL: databaseUrl, SWITCH_SECRET: SECRET_HEX, PLACEMENT: 'main' },
  });
  t.teardown(() => { child.kill('SIGKILL'); });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  let iso = 0;
  for (let i = 0; i < 600 && iso === 0; i++) {
    const line = stderr.split('\n').find((l) => l.includes('"switch listening"'));
    if (line !== undefined) iso = Number((JSON.parse(line) as { iso: string }).iso.split(':').pop());
    else await new Promise((r) => setTimeout(r, 100));
  }
  t.ok(iso > 0, 'the first switch listens');
  const c = await IsoClient.connect(iso);
  const reqs: IsoJson[] = [];
  for (let k = 0; k < 80; k++) for (const card of cards) reqs.push(auth(card));
  const approved: IsoJson[] = [];
  let answered = 0;
  const exited = new Promise((r) => child.once('exit', r));
  await new Promise<void>((resolve) => {
    for (const r of reqs) {
      c.request(r, 30_000).then((a) => {
        answered++;
        if (a['39'] === '00') approved.push(r);
        if (answered === 200) { child.kill('SIGKILL'); resolve(); }
      }, () => { /* unanswered: the switch was killed */ });
    }
  });
  await exited;
  c.close();
  t.ok(approved.length >= 200, `${approved.length} authorizations approved before the kill`);
  const left = await redis.client.xlen('{g00}:jnl') + await redis.client.xlen('{g00}:recs:log');
  t.comment(`${left} entries left in the streams by the killed switch (read or not)`);

  const second = await startIn(t, { REDIS_URL: redis.url, DATABASE_URL: databaseUrl });
  await drained(redis.client, 90_000);
  await assertComplete(t, second, redis.client);
  const ledger = await Ledger.open(redis.client);
  let held = 0;
  for (const r of approved) {
    const card = cards.find((x) => x.pan === r['2'])!;
    const txId = `${card.cardId}.010.${r['7']}.${r['11']}.${'123456'.padStart(11, '0')}.TERM0001`;
    if ((await ledger.getTransaction(card.balanceId, txId))?.status === 'AUTHORIZED') held++;
  }
  t.equal(held, approved.length, 'every approval answered before the kill stands: one hold each');
  const byCard = await second.history.pool.query('SELECT card_id, count(*)::int AS n FROM history.records GROUP BY card_id');
  const total = byCard.rows.reduce((s, r) => s + (r.n as number), 0);
  t.ok(total >= approved.length, `the history database holds a record of every answered authorization (${total} records)`);
});

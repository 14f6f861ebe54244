// Velocity counters inside the atomic hold (ledger/counters.ts, includes/counters.lua): exact under
// concurrency, enforced or shadow, per window and scope, given back by reversals, releases and
// expiry. Real redis-server per scenario, each ending with the invariant checker.
import t, { type Test } from 'tap';
import { Redis } from 'ioredis';
import { COUNTER_TTL_MS, Ledger, counterPeriod, type HoldArgs, type VelocityCounter, type VelocityCounters } from '../ledger/index.js';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';

const { scenario, opened } = ledgerScenarios(t);

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 11, 7, 10, 0, 0); // Monday 7 December 2026

interface Env { ledger: Ledger; url: string; depId: string; ubId: string }

async function setup(t: Test, user = 1_000_000, deposit = 1_000_000): Promise<Env> {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { now: () => NOW });
  opened.set(t, ledger);
  const depId = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  await ledger.reloadPartnerBalance({ id: depId, amountMinor: deposit, idempotencyKey: 'reload' });
  const ubId = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' })).id;
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: ubId, amountMinor: user, partnerId: null });
  return { ledger, url: r.url, depId, ubId };
}

const counter = (controlId: string, over: Partial<VelocityCounter> = {}): VelocityCounter => {
  const window = over.window ?? 'DAY';
  return { controlId, window, period: counterPeriod(window, NOW), scope: 'ALL', amountMinor: null, count: null, enforced: true, ...over };
};
const counters = (list: VelocityCounter[], scope: 'PURCHASE' | 'CASH' = 'PURCHASE'): VelocityCounters => ({ cardId: 'card1', scope, counters: list });

const holdArgs = (e: Env, id: string, amount: number, c: VelocityCounters | undefined, extra: Partial<HoldArgs> = {}): HoldArgs => ({
  idempotencyKey: 'h-' + id, txId: id, balanceId: e.ubId, depositId: e.depId, amountMinor: amount, expiresAtMs: NOW + 7 * DAY, nowMs: NOW,
  ...(c === undefined ? {} : { counters: c }), ...extra,
});

const usageKey = (period: string) => `{g00}:use:card1:${period}`;

t.test('periods: UTC day, ISO week (Monday first, the week\'s own year), month, lifetime', async (t) => {
  t.equal(counterPeriod('DAY', NOW), '20261207');
  t.equal(counterPeriod('MONTH', NOW), '202612');
  t.equal(counterPeriod('LIFETIME', NOW), 'L');
  const week = (iso: string) => counterPeriod('WEEK', Date.parse(iso));
  t.equal(week('2026-12-07T00:00:00Z'), '2026W50', 'a Monday starts its week');
  t.equal(week('2026-12-06T23:59:59Z'), '2026W49', 'the Sunday before ends the previous one');
  t.equal(week('2021-01-03T12:00:00Z'), '2020W53', 'early January can belong to the last week of the year before');
  t.equal(week('2024-12-30T00:00:00Z'), '2025W01', 'late December can belong to week 1 of the next year');
  t.equal(week('2026-01-01T00:00:00Z'), '2026W01');
  t.same(COUNTER_TTL_MS, { DAY: 2 * DAY, WEEK: 8 * DAY, MONTH: 32 * DAY, LIFETIME: null });
});

scenario('1,000 concurrent holds against a count limit and an amount limit approve exactly what the limits allow', async (t) => {
  const e = await setup(t, 10_000_000, 10_000_000);
  const clients = Array.from({ length: 8 }, () => new Redis(e.url, { enableAutoPipelining: true, maxRetriesPerRequest: 1 }));
  t.teardown(() => { for (const c of clients) c.disconnect(); });
  const ledgers = await Promise.all(clients.map((c) => Ledger.open(c)));
  // A count limit of 137 per week; random amounts against a month amount limit on another card.
  const weekly = counters([counter('weekly-count', { window: 'WEEK', count: 137 })]);
  const r1 = await Promise.all(Array.from({ length: 1000 }, (_, i) => ledgers[i % 8]!.hold(holdArgs(e, 'c' + i, 10, weekly))));
  t.equal(r1.filter((r) => r.approved).length, 137, 'exactly 137 approved');
  t.ok(r1.filter((r) => !r.approved).every((r) => r.reason === 'LIMIT_EXCEED'), 'the others declined LIMIT_EXCEED');
  t.same(await e.ledger.redis.hgetall(usageKey(counterPeriod('WEEK', NOW))), { 'a:weekly-count': '1370', 'n:weekly-count': '137' });

  const LIMIT = 50_000;
  const monthly: VelocityCounters = { cardId: 'card2', scope: 'PURCHASE', counters: [counter('monthly-amount', { window: 'MONTH', amountMinor: LIMIT })] };
  let seed = 7;
  const rnd = () => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed; };
  const amounts = Array.from({ length: 1000 }, () => 1 + (rnd() % 200));
  const r2 = await Promise.all(amounts.map((a, i) => ledgers[i % 8]!.hold(holdArgs(e, 'm' + i, a, monthly))));
  const spent = r2.reduce((s, r, i) => s + (r.approved ? amounts[i]! : 0), 0);
  t.ok(spent <= LIMIT, `approved ${spent} within the limit ${LIMIT}`);
  const used = Number(await e.ledger.redis.hget(`{g00}:use:card2:${counterPeriod('MONTH', NOW)}`, 'a:monthly-amount'));
  t.equal(used, spent, 'the counter holds exactly what was approved');
  const smallestDeclined = Math.min(...amounts.filter((_, i) => !r2[i]!.approved));
  t.ok(r2.some((r) => !r.approved), 'some were declined');
  t.ok(r2.filter((r) => !r.approved).every((r) => r.reason === 'EXCEEDS_AMOUNT_LIMIT'), 'declined EXCEEDS_AMOUNT_LIMIT');
  t.ok(spent + smallestDeclined > LIMIT, 'nothing approvable was declined: the smallest declined amount no longer fits');
});

scenario('a shadow counter declines nothing, says which control would have declined and why, and counts like any other', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  const c = counters([
    counter('enforced-amount', { amountMinor: 1_000 }),
    counter('shadow-amount', { amountMinor: 250, enforced: false }),
    counter('shadow-count', { count: 2, enforced: false }),
  ]);
  t.match(await ledger.hold(holdArgs(e, 'a', 200, c)), { approved: true, wouldDecline: null });
  t.match(await ledger.hold(holdArgs(e, 'b', 100, c)), { approved: true, wouldDecline: { controlId: 'shadow-amount', reason: 'EXCEEDS_AMOUNT_LIMIT' } },
    'over the shadow amount limit: approved, and named');
  t.match(await ledger.debit({ ...holdArgs(e, 'c', 50, c) }), { approved: true, wouldDecline: { controlId: 'shadow-amount', reason: 'EXCEEDS_AMOUNT_LIMIT' } },
    'amount limits are checked before count limits');
  const d = counters([counter('enforced-amount', { amountMinor: 1_000 }), counter('shadow-count', { count: 2, enforced: false })]);
  t.match(await ledger.hold(holdArgs(e, 'd', 50, d)), { approved: true, wouldDecline: { controlId: 'shadow-count', reason: 'LIMIT_EXCEED' } });
  t.same(await ledger.redis.hgetall(usageKey('20261207')), {
    'a:enforced-amount': '400', 'n:enforced-amount': '4', 'a:shadow-amount': '350', 'n:shadow-amount': '3', 'a:shadow-count': '400', 'n:shadow-count': '4',
  }, 'every counter counted every approval of its scope, shadow or not');
  t.match(await ledger.hold(holdArgs(e, 'e', 700, d)), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT', wouldDecline: null },
    'an enforced counter over its limit declines');
  const shadowFirst = counters([counter('shadow-amount', { amountMinor: 250, enforced: false }), counter('enforced-amount', { amountMinor: 1_000 })]);
  t.match(await ledger.hold(holdArgs(e, 'f', 700, shadowFirst)), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT', wouldDecline: { controlId: 'shadow-amount' } },
    'a shadow counter checked before the enforced one that declines is still named');
  // Promotion: the same counter, enforced, declines from the next hold on.
  const promoted = counters([counter('shadow-amount', { amountMinor: 250 })]);
  t.match(await ledger.hold(holdArgs(e, 'g', 1, promoted)), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' }, 'promoted: declines');
  // Forced (an advice): counted, never checked, nothing named.
  t.match(await ledger.hold(holdArgs(e, 'h', 5_000, c, { forced: true, idempotencyKey: 'adv-h' })), { approved: true, wouldDecline: null });
  t.equal(await ledger.redis.hget(usageKey('20261207'), 'a:enforced-amount'), '5400');
});

scenario('a hold carrying its record does not write it when a shadow counter would have declined (the caller writes it with wouldDecline)', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  const c = counters([counter('shadow', { amountMinor: 100, enforced: false })]);
  const recordKeys = (id: string) => [`{g00}:rec:${id}`, `{g00}:recs:bal:${e.ubId}`, `{g00}:recs:card:card1`, `{g00}:rec:${id}`, `{g00}:dup:${id}`, `{g00}:rec:${id}`, `{g00}:rec:${id}`, '{g00}:recs:log'];
  const record = (id: string) => ({ keys: recordKeys(id), args: ['[1]', NOW, id, 'answer', 60_000, id, 60_000], appendBalances: false });
  t.match(await ledger.hold(holdArgs(e, 'a', 50, c, { record: record('a') })), { approved: true, recorded: true, wouldDecline: null });
  t.match(await ledger.hold(holdArgs(e, 'b', 60, c, { record: record('b') })), { approved: true, recorded: false, wouldDecline: { controlId: 'shadow' } });
  t.equal(await ledger.redis.exists('{g00}:rec:a'), 1);
  t.equal(await ledger.redis.exists('{g00}:rec:b'), 0, 'left to the caller');
});

scenario('windows and scopes: one usage hash per period, with its TTL; cash and purchases apart; a new period starts from zero', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  const all = (scope: 'PURCHASE' | 'CASH', now = NOW) => ({
    cardId: 'card1', scope, counters: [
      { controlId: 'day-all', window: 'DAY', period: counterPeriod('DAY', now), scope: 'ALL', amountMinor: 1_000, count: null, enforced: true },
      { controlId: 'week-cash', window: 'WEEK', period: counterPeriod('WEEK', now), scope: 'CASH', amountMinor: 300, count: null, enforced: true },
      { controlId: 'month-purchase', window: 'MONTH', period: counterPeriod('MONTH', now), scope: 'PURCHASE', amountMinor: null, count: 3, enforced: true },
      { controlId: 'life', window: 'LIFETIME', period: 'L', scope: 'ALL', amountMinor: 5_000, count: null, enforced: true },
    ],
  } satisfies VelocityCounters);
  t.match(await ledger.hold(holdArgs(e, 'cash1', 200, all('CASH'))), { approved: true });
  t.match(await ledger.hold(holdArgs(e, 'cash2', 200, all('CASH'))), { approved: false, reason: 'EXCEEDS_AMOUNT_LIMIT' }, 'the weekly cash limit');
  t.match(await ledger.hold(holdArgs(e, 'buy1', 200, all('PURCHASE'))), { approved: true }, 'a purchase does not count against cash');
  t.match(await ledger.hold(holdArgs(e, 'buy2', 200, all('PURCHASE'))), { approved: true });
  t.match(await ledger.hold(holdArgs(e, 'buy3', 200, all('PURCHASE'))), { approved: true });
  t.match(await ledger.hold(holdArgs(e, 'buy4', 200, all('PURCHASE'))), { approved: false, reason: 'LIMIT_EXCEED' }, 'the monthly purchase count');
  const keys = {
    day: usageKey('20261207'), week: usageKey('2026W50'), month: usageKey('202612'), life: usageKey('L'),
  };
  t.same(await ledger.redis.hgetall(keys.day), { 'a:day-all': '800', 'n:day-all': '4' }, 'the day counts both');
  t.same(await ledger.redis.hgetall(keys.week), { 'a:week-cash': '200', 'n:week-cash': '1' });
  t.same(await ledger.redis.hgetall(keys.month), { 'a:month-purchase': '600', 'n:month-purchase': '3' });
  t.same(await ledger.redis.hgetall(keys.life), { 'a:life': '800', 'n:life': '4' });
  const ttl = async (k: string) => ledger.redis.pttl(k);
  t.ok(await ttl(keys.day) > DAY && await ttl(keys.day) <= 2 * DAY, 'DAY: 2 days');
  t.ok(await ttl(keys.week) > 7 * DAY && await ttl(keys.week) <= 8 * DAY, 'WEEK: 8 days');
  t.ok(await ttl(keys.month) > 31 * DAY && await ttl(keys.month) <= 32 * DAY, 'MONTH: 32 days');
  t.equal(await ttl(keys.life), -1, 'LIFETIME: no expiry (it lives with the card)');
  // The next week: a new week's cash counter, the same month's purchase count, the same lifetime.
  const next = NOW + 7 * DAY;
  t.match(await ledger.hold(holdArgs(e, 'cash3', 300, all('CASH', next), { nowMs: next })), { approved: true }, 'a new week starts from zero');
  t.match(await ledger.hold(holdArgs(e, 'buy5', 10, all('PURCHASE', next), { nowMs: next })), { approved: false, reason: 'LIMIT_EXCEED' }, 'still the same month');
  t.equal(await ledger.redis.hget(keys.life, 'a:life'), '1100');
  // Counters of another scope only: no usage hash is touched at all.
  const dayBefore = await ledger.redis.hgetall(keys.day);
  t.match(await ledger.hold(holdArgs(e, 'buy6', 10, counters([counter('cash-only', { scope: 'CASH', amountMinor: 1 })]))), { approved: true });
  t.same(await ledger.redis.hgetall(keys.day), dayBefore, 'a cash counter neither checks nor counts a purchase');
  t.equal(await ledger.redis.hget(`{g00}:tx:${e.ubId}:buy6`, 'vu'), null, 'and the transaction records no usage');
});

scenario('reversals, releases and expiry give velocity usage back exactly; a usage hash gone is not recreated', async (t) => {
  const e = await setup(t);
  const { ledger, ubId } = e;
  const c = counters([counter('d', { amountMinor: 1_000, count: 5 }), counter('m', { window: 'MONTH', amountMinor: 10_000, count: 50 })]);
  const use = async () => ({
    day: await ledger.redis.hmget(usageKey('20261207'), 'a:d', 'n:d'), month: await ledger.redis.hmget(usageKey('202612'), 'a:m', 'n:m'),
  });
  t.match(await ledger.hold(holdArgs(e, 'h1', 400, c)), { approved: true });
  t.match(await ledger.debit(holdArgs(e, 'p1', 300, c)), { approved: true });
  t.same(await use(), { day: ['700', '2'], month: ['700', '2'] });
  t.match(await ledger.reverse({ idempotencyKey: 'r-h1', txId: 'h1', balanceId: ubId, newAmountMinor: 100 }), { ok: true, movedMinor: 300 });
  t.same(await use(), { day: ['400', '2'], month: ['400', '2'] }, 'a partial reversal: the amount given back on every counter, not the count');
  t.match(await ledger.reverse({ idempotencyKey: 'r-p1', txId: 'p1', balanceId: ubId }), { ok: true, effect: 'CREDITED_BACK' });
  t.same(await use(), { day: ['100', '1'], month: ['100', '1'] }, 'a full reversal of a posted debit: everything and the count');
  t.match(await ledger.reverse({ idempotencyKey: 'r-p1-again', txId: 'p1', balanceId: ubId }), { ok: true, reason: 'ALREADY_REVERSED' });
  t.same(await use(), { day: ['100', '1'], month: ['100', '1'] }, 'a second reversal gives nothing back');
  // release() (partial then full) and expiry give back too.
  t.match(await ledger.hold(holdArgs(e, 'h2', 500, c)), { approved: true });
  t.match(await ledger.release({ idempotencyKey: 'rel-h2', txId: 'h2', balanceId: ubId, newAmountMinor: 200 }), { ok: true });
  t.same(await use(), { day: ['300', '2'], month: ['300', '2'] });
  t.match(await ledger.hold(holdArgs(e, 'h3', 250, c)), { approved: true });
  t.match(await ledger.sweepExpired(NOW + 8 * DAY), { expired: 3 }, 'h1, h2 and h3 expire');
  t.same(await use(), { day: ['0', '0'], month: ['0', '0'] }, 'an expired hold was never a purchase: its usage goes back');
  // A partly cleared hold that expires: only what was still held goes back, not the count.
  t.match(await ledger.hold(holdArgs(e, 'h4', 600, c)), { approved: true });
  t.match(await ledger.clear({ idempotencyKey: 'cl-h4', txId: 'h4', balanceId: ubId, amountMinor: 200, final: false }), { ok: true });
  t.match(await ledger.reverse({ idempotencyKey: 'r-h4', txId: 'h4', balanceId: ubId }), { ok: true, effect: 'RELEASED', status: 'CLEARED' });
  t.same(await use(), { day: ['200', '1'], month: ['200', '1'] }, 'what was cleared stays counted, and the transaction with it');
  // The day's usage hash gone (the day long over): the month's is given back, the day's not recreated.
  t.match(await ledger.hold(holdArgs(e, 'h5', 300, c)), { approved: true });
  await ledger.redis.del(usageKey('20261207'));
  t.match(await ledger.reverse({ idempotencyKey: 'r-h5', txId: 'h5', balanceId: ubId }), { ok: true });
  t.equal(await ledger.redis.exists(usageKey('20261207')), 0, 'not recreated');
  t.same((await use()).month, ['200', '1']);
});

scenario('a hold without counters touches no usage hash; malformed counters are refused before Redis is touched', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  t.match(await ledger.hold(holdArgs(e, 'plain', 100, undefined)), { approved: true, wouldDecline: null });
  t.same(await ledger.redis.keys('*use*'), []);
  const bad: [string, VelocityCounters][] = [
    ['a DAY period that is not YYYYMMDD', counters([counter('x', { period: '2026-12-07', amountMinor: 1 })])],
    ['a WEEK period of a day', counters([counter('x', { window: 'WEEK', period: '20261207', amountMinor: 1 })])],
    ['a duplicate id', counters([counter('x', { amountMinor: 1 }), counter('x', { count: 1 })])],
    ['an id with a separator', counters([counter('x|y', { amountMinor: 1 })])],
    ['a negative limit', counters([counter('x', { amountMinor: -1 })])],
    ['a TRANSACTION window (a pure check, not a counter)', counters([counter('x', { window: 'TRANSACTION' as never, period: 'L', amountMinor: 1 })])],
  ];
  for (const [what, c] of bad) await t.rejects(ledger.hold(holdArgs(e, 'bad', 1, c)), { code: 'LEDGER_ERR_INVALID_ARGUMENT' }, what);
});

scenario('counters behind a guard, with and without its sequence: counted and checked the same', async (t) => {
  const e = await setup(t);
  const { ledger } = e;
  await ledger.redis.hset('card:guarded', 'id', 'card1', 'v', '1');
  const guard = (sequence?: { value: number; owner: string }) => ({
    hashKey: 'card:guarded', fields: ['id', 'v'], expected: ['card1', '1'], absentKey: null,
    ...(sequence === undefined ? {} : { sequence: { field: 'ac', ownerField: 'am', ...sequence } }),
  });
  const c = counters([counter('daily-count', { count: 2 }), counter('daily-amount', { amountMinor: 1_000 })]);
  t.match(await ledger.hold(holdArgs(e, 'g1', 300, c, { guard: guard() })), { approved: true }, 'guarded, no sequence: held');
  t.match(await ledger.hold(holdArgs(e, 'g2', 300, c, { guard: guard({ value: 1, owner: 'g2' }) })), { approved: true }, 'guarded with a sequence: held');
  t.match(await ledger.hold(holdArgs(e, 'g3', 300, c, { guard: guard({ value: 2, owner: 'g3' }) })), { approved: false, reason: 'LIMIT_EXCEED' }, 'the third: over the count limit');
  t.same(await ledger.redis.hgetall(usageKey(counterPeriod('DAY', NOW))), { 'a:daily-amount': '600', 'n:daily-amount': '2', 'a:daily-count': '600', 'n:daily-count': '2' }, 'two counted');
  t.same(await ledger.redis.hmget('card:guarded', 'ac', 'am'), ['2', 'g3'], 'the declined one\'s sequence consumed');
});

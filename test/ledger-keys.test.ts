// The ledger's key space and script contract: the Lua result codes are the TypeScript table's
// (generated at load time, checked here against a real Redis), every key a script touches is one
// it was given in KEYS (watched with MONITOR over a whole transaction life), the store keys the
// API builds agree with the stores', and a script answer that breaks an invariant throws
// LedgerAssertionError. Real redis-server per test.
import t, { type Test } from 'tap';
import { existsSync, mkdtempSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ledger, LedgerAssertionError, counterPeriod, type VelocityCounters } from '../ledger/index.js';
import { assertHoldResult, assertVector } from '../ledger/assert.js';
import { Code, REVERSE_EFFECTS, TX_STATUSES } from '../ledger/codes.js';
import { Keyspace, StoreKeys } from '../ledger/keys.js';
import { loadScripts, luaDir, projectRoot } from '../ledger/scripts.js';
import { customerKeys } from '../stores/customers.js';
import { startTestRedis } from './helpers/redis.js';
import { ledgerScenarios } from './helpers/ledger.js';

const { scenario, opened } = ledgerScenarios(t);
const DAY = 86_400_000;

/** A scratch script directory holding ledger/lua/includes and one probe script. */
function probeDir(t: Test, name: string, lua: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'ledger-probe-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'includes'));
  for (const inc of ['common', 'hold-body', 'release-body']) {
    writeFileSync(join(dir, 'includes', `${inc}.lua`), readFileSync(join(luaDir(), 'includes', `${inc}.lua`)));
  }
  writeFileSync(join(dir, name), lua);
  return dir;
}

t.test('the Lua constants are the TypeScript tables, as Redis reads them', async (t) => {
  const r = await startTestRedis(t);
  const names = [
    ...Object.keys(Code).map((n) => 'C_' + n),
    ...TX_STATUSES.map((n) => 'S_' + n),
    ...REVERSE_EFFECTS.map((n) => 'E_' + n),
  ];
  const want = [...Object.values(Code), ...TX_STATUSES.map((_, i) => i), ...REVERSE_EFFECTS.map((_, i) => i)];
  const dir = probeDir(t, 'probe-0.lua', `--- @include common\nreturn {${names.join(', ')}}\n`);
  const [probe] = loadScripts(dir);
  t.same(await r.client.eval(probe!.lua, 0), want, 'every C_, S_ and E_ constant has its TypeScript value');
  t.notOk(loadScripts().some((s) => /--- @constants/.test(s.lua)), 'no loaded script keeps the @constants marker');
});

t.test('a script naming a constant the TypeScript tables lack is refused at load time', async (t) => {
  const dir = probeDir(t, 'probe-0.lua', '--- @include common\nreturn {C_NO_SUCH_CODE}\n');
  t.throws(() => loadScripts(dir), { code: 'LEDGER_ERR_SCRIPT_CONSTANT' });
});

t.test('no script builds a key: no key-kind literal in any Lua source', async (t) => {
  const kinds = /['"][^'"]*:(ub|tx|hist|cust|pbt|pb|idem|use|xfer|xfers|xin|jnl|exp|world|meta):?[^'"]*['"]/;
  const files = readdirSync(luaDir()).filter((f) => f.endsWith('.lua')).map((f) => join(luaDir(), f))
    .concat(readdirSync(join(luaDir(), 'includes')).map((f) => join(luaDir(), 'includes', f)));
  for (const file of files) {
    const code = readFileSync(file, 'utf8').replace(/--.*$/gm, '');
    t.notMatch(code, kinds, `${file.slice(luaDir().length + 1)}: keys come in KEYS`);
  }
});

t.test('no Redis key is written outside the key-space module', async (t) => {
  // A key-shaped string literal (a known key family and a colon, or a slot-group hash tag) in the
  // product's code means a key built beside ledger/keys.ts instead of by it.
  const KEY_LITERAL = /['`](?:card|customer|api|rec|recs|dup|rrn|oid|ob|idem|tx|ub|pbt|pb|use|hist|lowbal):|['`]\{g\d|['`]\{\$\{groupTag/;
  const root = projectRoot();
  const offenders: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(root, dir), { withFileTypes: true })) {
      const rel = join(dir, name.name);
      if (name.isDirectory()) { walk(rel); continue; }
      if (!rel.endsWith('.ts') || rel === join('ledger', 'keys.ts')) continue;
      readFileSync(join(root, rel), 'utf8').split('\n').forEach((line, i) => {
        if (!line.trim().startsWith('//') && !line.trim().startsWith('*') && KEY_LITERAL.test(line)) offenders.push(`${rel}:${i + 1}`);
      });
    }
  };
  for (const dir of ['switch', 'api', 'adapters', 'ledger', 'stores', 'app', 'iso', 'errors', 'history']) {
    if (existsSync(join(root, dir))) walk(dir);
  }
  t.same(offenders, [], 'every key comes from ledger/keys.ts');
});

t.test('the store keys the API builds are the stores\' own', async (t) => {
  for (const id of ['c1', 'customer-42', 'A.b_c']) t.equal(StoreKeys.customerCards(id), customerKeys(id).cards, id);
  t.equal(StoreKeys.cardDelivery('card-1'), 'card:delivery:card-1');
});

t.test('Keyspace: group-tag keys match the per-group builders', async (t) => {
  const k = new Keyspace(16);
  for (const g of [0, 7, 15]) {
    t.equal(Keyspace.trancheInTag(k.tags[g]!, 'pb-DEPOSIT-EUR-cfg'), k.tranche(g, 'pb-DEPOSIT-EUR-cfg'));
    t.equal(Keyspace.transferReceiptInTag(k.tags[g]!, 'x1'), k.transferReceipt(g, 'x1'));
    t.equal(k.groupOfTag(k.tags[g]!), g);
  }
  t.equal(k.groupOfTag('g99'), -1);
  t.same(k.tranches('p'), k.tags.map((_, g) => k.tranche(g, 'p')));
});

scenario('every key a script touches was passed in its KEYS (MONITOR over a whole life)', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client, { groups: 2 });
  opened.set(t, ledger);
  const monitor = await r.client.monitor();
  t.teardown(() => monitor.disconnect());
  let declared: Set<string> | null = null;
  let scripts = 0;
  const undeclared: string[] = [];
  monitor.on('monitor', (_time: string, args: string[], source: string) => {
    const cmd = args[0]!.toLowerCase();
    if (source !== 'lua') {
      // Redis 7 logs EVAL/EVALSHA before the commands its script runs.
      declared = cmd === 'eval' || cmd === 'evalsha' ? new Set(args.slice(3, 3 + Number(args[2]))) : null;
      if (declared !== null) scripts++;
      return;
    }
    // Every command the scripts use takes its one key first.
    if (declared === null || !declared.has(args[1]!)) undeclared.push(`${args[0]} ${args[1]}`);
  });

  const dep = (await ledger.createPartnerBalance({ type: 'DEPOSIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  const company = (await ledger.createPartnerBalance({ type: 'COMPANY', currency: 'EUR', configId: 'cfg' })).balance.id;
  const credit = (await ledger.createPartnerBalance({ type: 'CREDIT', currency: 'EUR', configId: 'cfg' })).balance.id;
  await ledger.reloadPartnerBalance({ id: dep, amountMinor: 50_000, idempotencyKey: 'rl-dep' });
  await ledger.reloadPartnerBalance({ id: credit, amountMinor: 50_000, idempotencyKey: 'rl-credit' });
  const ub = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg', idempotencyKey: 'cb' })).id;
  t.ok((await ledger.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: ub, amountMinor: 20_000, partnerId: credit })).ok);
  const now = Date.now();
  // Velocity counters over every window: one usage hash per period, all in the hold's slot.
  const counters: VelocityCounters = {
    cardId: 'card1', scope: 'PURCHASE', counters: (['DAY', 'WEEK', 'MONTH', 'LIFETIME'] as const).map((w) => ({
      controlId: 'v-' + w, window: w, period: counterPeriod(w, now), scope: 'ALL' as const, amountMinor: 100_000, count: 50, enforced: w !== 'MONTH',
    })),
  };
  const hold = (id: string, amount: number, extra: object = {}) => ledger.hold({
    idempotencyKey: 'h-' + id, txId: id, balanceId: ub, depositId: dep, companyId: company, amountMinor: amount, feeMinor: 10, fxFeeMinor: 5,
    expiresAtMs: now + 7 * DAY, nowMs: now, counters, meta: { mcc: '5411' }, ...extra,
  });
  // Several in one tick (hold-many), then one alone (hold-deposit-then-user), one without a deposit (hold-user).
  const held = await Promise.all([hold('a', 1000), hold('b', 2000), hold('c', 3000), hold('d', 400), hold('e', 500, { orphanTxId: 'e-alt' })]);
  t.ok(held.every((h) => h.approved), 'holds approved');
  t.ok((await hold('f', 600)).approved);
  // An incremental authorization of f, reversed alone; one of e, left to expire with it.
  const inc = (id: string, of: string, amount: number) => ledger.incrementHold({
    idempotencyKey: 'i-' + id, originalTxId: of, incrementTxId: id, balanceId: ub, depositId: dep, companyId: company, amountMinor: amount,
    feeMinor: 1, expiresAtMs: now + 8 * DAY, nowMs: now, counters,
  });
  t.match(await inc('f-inc', 'f', 200), { approved: true });
  t.match(await inc('e-inc', 'e', 50), { approved: true });
  t.match(await ledger.reverse({ idempotencyKey: 'rev-f-inc', txId: 'f-inc', balanceId: ub, nowMs: now }), { ok: true, effect: 'RELEASED', movedMinor: 201 });
  // A completion advice replacing b's hold before its clearing.
  t.match(await ledger.replaceHold({ idempotencyKey: 'rp-b', txId: 'b', balanceId: ub, amountMinor: 1500, nowMs: now }), { ok: true, releasedMinor: 500 });
  t.ok((await ledger.hold({ idempotencyKey: 'h-nodep', txId: 'nodep', balanceId: ub, depositId: null, amountMinor: 100, expiresAtMs: now + 7 * DAY })).approved);
  t.ok((await ledger.debit({ idempotencyKey: 'd-1', txId: 'd1', balanceId: ub, depositId: dep, companyId: company, amountMinor: 300, feeMinor: 3 })).approved);
  t.match(await ledger.clear({ idempotencyKey: 'cl-a', txId: 'a', balanceId: ub, amountMinor: 900 }), { ok: true, releasedMinor: 100 });
  t.match(await ledger.clear({ idempotencyKey: 'cl-b', txId: 'b', balanceId: ub, amountMinor: 2500 }), { ok: true, forcedMinor: 1000 });
  t.match(await ledger.release({ idempotencyKey: 'rel-c', txId: 'c', balanceId: ub, newAmountMinor: 1000 }), { ok: true, amountMinor: 1000 });
  t.match(await ledger.release({ idempotencyKey: 'rel-c2', txId: 'c', balanceId: ub }), { ok: true, reason: 'ALREADY_REVERSED', status: 'AUTHORIZED' },
    'reversed at most once: the rest of c stays held until it expires');
  t.match(await ledger.reverse({ idempotencyKey: 'rev-a', txId: 'a', balanceId: ub, cardId: 'card1', nowMs: now }), { ok: true, effect: 'CREDITED_BACK' });
  t.match(await ledger.reverse({ idempotencyKey: 'rev-d', txId: 'd', balanceId: ub, cardId: 'card1', nowMs: now }), { ok: true, effect: 'RELEASED' });
  t.match(await ledger.reverse({ idempotencyKey: 'rev-x', txId: 'unknown', balanceId: ub, rememberOrphan: true }), { reason: 'TRANSACTION_NOT_FOUND' });
  t.ok((await ledger.credit({ idempotencyKey: 'cr-1', txId: 'cr1', balanceId: ub, amountMinor: 50, depositId: dep })).ok);
  t.ok((await ledger.post({ type: 'FEE', idempotencyKey: 'fee-1', txId: 'fee1', balanceId: ub, amountMinor: 20, partnerId: company })).ok);
  t.match(await ledger.sweepExpired(now + 30 * DAY), { expired: 4 }, 'c, e, f and nodep expire');
  t.ok(await ledger.rebalancePartnerBalance(dep) >= 0);
  t.equal(await ledger.transferBetweenTranches(dep, 0, 1, 100), 100);

  await new Promise((resolve) => setTimeout(resolve, 200));
  t.ok(scripts > 20, `MONITOR saw the scripts run (${scripts})`);
  t.same(undeclared, [], 'no script touched a key it was not given in KEYS');
});

scenario('a script answer that breaks an invariant throws LedgerAssertionError', async (t) => {
  const r = await startTestRedis(t);
  const ledger = await Ledger.open(r.client);
  opened.set(t, ledger);
  const ub = (await ledger.createUserBalance({ customerId: 'c1', currency: 'EUR', configId: 'cfg' })).id;
  const key = ledger.keys.userBalance(ledger.keys.groupOfBalance(ub), ub);
  // Something other than the scripts wrote a negative blocked amount: the decline reports it.
  await r.client.hset(key, 'b', '-5');
  await t.rejects(ledger.hold({ idempotencyKey: 'h1', txId: 'h1', balanceId: ub, depositId: null, amountMinor: 100, expiresAtMs: Date.now() + DAY }),
    { name: 'LedgerAssertionError', code: 'LEDGER_ERR_ASSERTION', script: 'hold-user' });
  await r.client.hset(key, 'b', '0');
  // The declined hold was recorded (its idempotency record), nothing moved: the checker passes.
});

t.test('assertions on result vectors (pure checks)', async (t) => {
  const asked = { mode: 'H' as const, totalMinor: 100, amountMinor: 100, hasDeposit: true, userMayGoNegative: false, forced: false, counters: 2 };
  t.doesNotThrow(() => assertHoldResult('hold', [Code.OK, 0, 1, 900, 100, 4900, 100, 0], asked), 'an approved hold');
  t.doesNotThrow(() => assertHoldResult('hold', [Code.INSUFFICIENT_FUNDS, 0, 0, 50, 0, 5000, 0, 0], asked), 'a decline');
  const bad: [string, unknown[]][] = [
    ['unknown code', [99, 0, 0, 0, 0, 0, 0, 0]],
    ['short vector', [Code.OK, 0, 1]],
    ['not an integer', [Code.OK, 0, 1, 1.5, 100, 0, 100, 0]],
    ['unknown status', [Code.OK, 0, 9, 900, 100, 4900, 100, 0]],
    ['approved hold with the wrong status', [Code.OK, 0, 2, 900, 100, 4900, 100, 0]],
    ['approved hold leaving available negative', [Code.OK, 0, 1, -1, 100, 4900, 100, 0]],
    ['approved hold not inside blocked', [Code.OK, 0, 1, 900, 99, 4900, 100, 0]],
    ['approved hold not inside the deposit blocked', [Code.OK, 0, 1, 900, 100, 4900, 99, 0]],
    ['balance past the maximum', [Code.OK, 0, 1, 999_999_999_999, 100, 4900, 100, 0]],
    ['insufficient funds with enough', [Code.INSUFFICIENT_FUNDS, 0, 0, 100, 0, 5000, 0, 0]],
    ['decline leaving a transaction', [Code.INSUFFICIENT_FUNDS, 0, 1, 50, 0, 5000, 0, 0]],
    ['a would-decline naming no counter passed', [Code.OK, 0, 1, 900, 100, 4900, 100, 6]],
  ];
  t.doesNotThrow(() => assertHoldResult('hold', [Code.OK, 0, 1, 900, 100, 4900, 100, 5], asked), 'an approval naming counter 2\'s count limit');
  for (const [what, v] of bad) t.throws(() => assertHoldResult('hold', v, asked), LedgerAssertionError, what);
  t.throws(() => assertVector('x', 'not a vector'), { code: 'LEDGER_ERR_ASSERTION' });
});

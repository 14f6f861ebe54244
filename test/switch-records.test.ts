// Transaction records (stores/records.ts) as a user of the management API would read them, and
// the latency budget of SPEC §2.5: requests over a real socket, records read back from Redis.
import t from 'tap';
import type { Test } from 'tap';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestSwitch, type TestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { TransactionRecords } from '../stores/records.js';
import { checkLedger, formatReport } from '../ledger/check.js';
import { startTestCluster } from './helpers/cluster.js';
import { randomBytes } from 'node:crypto';
import { loadScripts } from '../ledger/scripts.js';
import { sharedTestDatabase } from './helpers/pg.js';

const EXP = '3012';
const F7 = '1125101500';

interface World { s: TestSwitch; c: IsoClient; ledger: Ledger; cards: CardStore; records: TransactionRecords }

async function startWorld(t: Test, programs?: unknown[], extraEnv: Record<string, string> = {}): Promise<World> {
  const env: Record<string, string> = { ...extraEnv };
  if (programs !== undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'records-'));
    writeFileSync(join(dir, 'programs.json'), JSON.stringify(programs));
    env.PROGRAMS_FILE = join(dir, 'programs.json');
  }
  const s = await startTestSwitch(t, { env });
  const ledger = await Ledger.open(s.redis.client);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  return { s, c, ledger, cards: CardStore.fromSecrets(s.redis.client, s.app.secrets), records: new TransactionRecords(s.redis.client, ledger) };
}

async function newCard(w: World, n: number, topUpMinor: number, configId = '0019167984', bin = '555770'): Promise<{ pan: string; cardId: string; balanceId: string }> {
  const pan = bin + '00000' + String(n).padStart(5, '0');
  const bal = await w.ledger.createUserBalance({ customerId: 'cust-' + n, currency: 'EUR', configId });
  await w.ledger.post({ type: 'TOPUP', idempotencyKey: 'seed-' + n, txId: 'seed-' + n, balanceId: bal.id, amountMinor: topUpMinor, partnerId: null });
  await w.cards.put(pan, { id: 'card-' + n, customerId: 'cust-' + n, balanceId: bal.id, configId, currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
  return { pan, cardId: 'card-' + n, balanceId: bal.id };
}

function msg(mti: string, pan: string, stan: string, amountMinor: number, over: Record<string, string> = {}): IsoJson {
  return {
    0: mti, 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: F7, 11: stan, 14: EXP, 18: '5411', 22: '071',
    32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001', 42: 'MERCHANT0000001',
    43: 'FROG SHOP'.padEnd(23) + 'LUBLIN'.padEnd(14) + 'POL', 49: '978', ...over,
  } as IsoJson;
}

async function ledgerSound(t: Test, w: World): Promise<void> {
  const report = await checkLedger(w.s.redis.client, w.s.app.history.reads);
  t.ok(report.ok, 'ledger check passes');
  if (!report.ok) t.comment(formatReport(report));
}

t.test('records: approved, declined and invalid messages, with the seed transaction object fields', async (t) => {
  const w = await startWorld(t);
  const card = await newCard(w, 1, 10_000);
  const ok = await w.c.request(msg('0100', card.pan, '000001', 2_500));
  t.equal(ok['39'], '00');
  const no = await w.c.request(msg('0100', card.pan, '000002', 50_000));
  t.equal(no['39'], '51');
  const advice = await w.c.request(msg('0120', '5557709999999999', '000003', 1_000));
  t.equal(advice['39'], '00', 'an advice for an unknown card is still acknowledged');
  await new Promise((r) => setTimeout(r, 200)); // records are written after the answer

  const page = await w.records.list({ cardId: card.cardId, limit: 10 });
  t.equal(page.items.length, 2);
  const [declined, approved] = page.items;
  t.match(approved, {
    balanceId: card.balanceId, cardId: card.cardId, resource: 'card', type: 'POS', category: 'DEBIT', amount: 2_500, currency: 'EUR',
    status: 'AUTHORIZED', processingStatus: 'SUCCESS', reason: 'APPROVED', responseCode: '00', mti: '0100',
    externalTransactionId: `${card.cardId}.010.${F7}.000001.00000123456.TERM0001`,
    description: 'FROG SHOP',
    transactionData: {
      mcc: '5411', merchantIdentifier: 'MERCHANT0000001', merchantName: 'FROG SHOP', merchantCity: 'LUBLIN', captureMode: 'NFC',
      lastFourDigits: card.pan.slice(-4), acquirerCountry: 'POL', retrievalReferenceNumber: 'RRN000001000',
    },
  });
  t.match(declined, {
    processingStatus: 'DECLINED', reason: 'INSUFFICIENT_FUNDS', responseCode: '51', amount: 50_000, status: 'AUTHORIZED',
    externalTransactionId: `${card.cardId}.010.${F7}.000002.00000123456.TERM0001`,
  });
  t.notOk(JSON.stringify(page).includes(card.pan), 'no PAN in a record');

  const all = await w.records.list({ limit: 10 });
  const invalid = all.items.find((r) => r.mti === '0120');
  t.match(invalid, { processingStatus: 'INVALID', reason: 'CARD_NOT_FOUND', balanceId: null, cardId: null });

  // The authorization's status follows the ledger: cleared by an 0220.
  const orig = msg('0100', card.pan, '000001', 2_500);
  const f90 = '0100000001' + F7 + '00000123456' + '0'.repeat(11);
  t.equal((await w.c.request(msg('0220', card.pan, '000004', 2_500, { 90: f90 })))['39'], '00');
  t.equal((await w.records.get(approved!.id))?.status, 'CLEARED', 'status read from the ledger');
  t.ok(orig);

  // Pages: newest first, the cursor moves on, and the last page says so.
  await new Promise((r) => setTimeout(r, 100));
  const p1 = await w.records.list({ balanceId: card.balanceId, limit: 2 });
  t.equal(p1.items.length, 2);
  t.type(p1.next, 'string');
  const p2 = await w.records.list({ balanceId: card.balanceId, limit: 2, cursor: p1.next! });
  t.equal(p2.items.length, 1);
  t.equal(p2.next, null);
  t.same(new Set([...p1.items, ...p2.items].map((r) => r.id)).size, 3, 'no record twice across pages');
  await ledgerSound(t, w);
});

/**
 * A switch with two 150 ms-budget programs, one declining at the deadline, one approving up to
 * 5,000: a card of each (numbers n, n + 1), the approving one topped up with `approveTopUpMinor`.
 */
async function budgetWorld(t: Test, n: number, approveTopUpMinor: number, env: Record<string, string> = {}) {
  const w = await startWorld(t, [
    // Budgets are what these programs test: their messages carry no card data (RELAXED).
    { configId: 'P-DECLINE', bin: '55577101', currency: 'EUR', mode: 'INTERNAL', budgetMs: 150, cardholderVerification: 'RELAXED' },
    {
      configId: 'P-APPROVE', bin: '55577102', currency: 'EUR', mode: 'INTERNAL', budgetMs: 150, standIn: { rule: 'APPROVE_UP_TO', limit: 5_000 }, cardholderVerification: 'RELAXED',
      holdExpiryDays: 7, holdExpiryDaysByMcc: { '7011': 30 },
    },
  ], env);
  const dCard = await newCard(w, n, 10_000, 'P-DECLINE', '55577101');
  const aCard = await newCard(w, n + 1, approveTopUpMinor, 'P-APPROVE', '55577102');
  return { w, dCard, aCard };
}

t.test('latency budget: at the deadline the stand-in rule answers and the ledger agrees', async (t) => {
  const { w, dCard, aCard } = await budgetWorld(t, 11, 1_000);
  // Warm the card lookups, so that only the hold meets the stalled Redis below.
  t.equal((await w.c.request(msg('0100', dCard.pan, '000010', 100)))['39'], '00');
  t.equal((await w.c.request(msg('0100', aCard.pan, '000011', 100)))['39'], '00');

  // Stall Redis for 400 ms with a busy script on another connection, then send: the holds (the
  // cards are remembered) wait behind it, and the 150 ms budget is spent before they answer.
  const stalled = w.s.redis.client.eval("local t0 = redis.call('TIME') local s = tonumber(t0[1]) * 1000 + tonumber(t0[2]) / 1000 while true do local t1 = redis.call('TIME') if tonumber(t1[1]) * 1000 + tonumber(t1[2]) / 1000 - s > 400 then break end end return 1", 0);
  await new Promise((r) => setTimeout(r, 30));
  const [declined, approved] = await Promise.all([
    w.c.request(msg('0100', dCard.pan, '000020', 3_000)),
    w.c.request(msg('0100', aCard.pan, '000021', 3_000, { 18: '7011' })),
  ]);
  await stalled;
  await new Promise((r) => setTimeout(r, 300)); // the stand-in's forced hold is written after the answer
  t.equal(declined['39'], '91', 'DECLINE stand-in: 91');
  t.notOk(declined['38'], 'no authorization id on a decline');
  // The card was remembered from the warm-up, so the hold itself went out and met the stall: the
  // 91's compensation left the transaction marked reversed (so that a late hold moves nothing).
  const dTx = await w.ledger.getTransaction(dCard.balanceId, `${dCard.cardId}.010.${F7}.000020.00000123456.TERM0001`);
  t.ok(dTx === null || (dTx.status === 'REVERSED' && dTx.heldMinor === 0), 'nothing held for the 91');
  t.equal((await w.ledger.getUserBalance(dCard.balanceId))?.blockedMinor, 100, 'only the warm-up hold is blocked');

  t.equal(approved['39'], '00', 'APPROVE_UP_TO: 3,000 ≤ 5,000 approved by the stand-in');
  t.equal(typeof approved['38'], 'string');
  const aTx = await w.ledger.getTransaction(aCard.balanceId, `${aCard.cardId}.010.${F7}.000021.00000123456.TERM0001`);
  t.equal(aTx?.status, 'AUTHORIZED', 'exactly one hold for the stand-in approval');
  t.equal(aTx?.forced, true, 'forced: the stand-in approved beyond the 900 available');
  t.equal(Math.round(((aTx?.expiresAtMs ?? 0) - (aTx?.createdAtMs ?? 0)) / 86_400_000), 30, "the stand-in's hold expires by the MCC's rule (7011: 30 days), as every hold does");
  t.equal((await w.ledger.getUserBalance(aCard.balanceId))?.availableMinor, 900 - 3_000);
  await ledgerSound(t, w);
});

t.test('latency budget: the deadline passes while the hold is in flight; the late hold is undone', async (t) => {
  const { w, dCard, aCard } = await budgetWorld(t, 21, 10_000);
  // CLIENT PAUSE WRITE lets the reads through (duplicate cache, card) and holds every script that
  // writes: the holds wait 400 ms, the 150 ms budget runs out while they are in flight.
  await w.s.redis.client.call('CLIENT', 'PAUSE', '400', 'WRITE');
  const [declined, approved] = await Promise.all([
    w.c.request(msg('0100', dCard.pan, '000030', 3_000)),
    w.c.request(msg('0100', aCard.pan, '000031', 3_000)),
  ]);
  t.equal(declined['39'], '91', 'DECLINE stand-in: 91 at the deadline');
  t.equal(approved['39'], '00', 'APPROVE_UP_TO: 00 at the deadline');
  await new Promise((r) => setTimeout(r, 800)); // the pause ends; the holds land, then their compensation
  const dTx = await w.ledger.getTransaction(dCard.balanceId, `${dCard.cardId}.010.${F7}.000030.00000123456.TERM0001`);
  t.equal(dTx?.status, 'REVERSED', 'the hold that landed after the 91 was released');
  t.match(await w.ledger.getUserBalance(dCard.balanceId), { availableMinor: 10_000, blockedMinor: 0 }, 'nothing held for the 91');
  const aTx = await w.ledger.getTransaction(aCard.balanceId, `${aCard.cardId}.010.${F7}.000031.00000123456.TERM0001`);
  t.equal(aTx?.status, 'AUTHORIZED', 'one hold for the stand-in approval');
  t.match(await w.ledger.getUserBalance(aCard.balanceId), { availableMinor: 7_000, blockedMinor: 3_000 }, 'held once, not twice');
  await ledgerSound(t, w);
});

// A hold that carried its approval's record (remembered cards) and the stand-in answer's own
// record write can reach Redis in either order: in the order sent (the hold, its undo, the
// stand-in's record, which then replaces the hold's), or with the hold behind (a Redis that does
// not know the script yet gets it again as EVAL after a NOSCRIPT reply, behind what was sent
// meanwhile: the hold's guard then finds the stand-in's cached answer and does nothing).
for (const scripts of ['loaded', 'flushed'] as const) {
  t.test(`latency budget, remembered cards, scripts ${scripts}: a hold that carried its record lands after the stand-in answer; the stand-in answer stands`, async (t) => {
    // One worker: the warm-up's card reads are remembered, so the holds below carry their
    // approval's record (HoldArgs.record) and land after the deadline.
    const { w, dCard, aCard } = await budgetWorld(t, 41, 10_000, { WORKERS: '1' });
    t.equal((await w.c.request(msg('0100', dCard.pan, '000040', 100)))['39'], '00');
    t.equal((await w.c.request(msg('0100', aCard.pan, '000041', 100)))['39'], '00');
    const redis = w.s.redis.client;
    if (scripts === 'loaded') {
      // The two holds below go out together, as one hold-many call: make sure Redis knows it.
      await redis.script('LOAD', loadScripts().find((x) => x.name === 'hold-many')!.lua);
    } else {
      await redis.script('FLUSH');
    }
    await redis.call('CLIENT', 'PAUSE', '400', 'WRITE');
    const dMsg = msg('0100', dCard.pan, '000042', 3_000);
    const aMsg = msg('0100', aCard.pan, '000043', 3_000);
    const [declined, approved] = await Promise.all([w.c.request(dMsg), w.c.request(aMsg)]);
    t.equal(declined['39'], '91', 'DECLINE stand-in: 91 at the deadline');
    t.equal(approved['39'], '00', 'APPROVE_UP_TO: 00 at the deadline');
    t.notOk(approved['54'], "the stand-in's approval carries no balance");
    await new Promise((r) => setTimeout(r, 800)); // the pause ends; the holds land, the compensation and the stand-in's records
    t.same(await w.c.request(dMsg), declined, 'a repeat of the 91 gets the 91, not an approval its late hold may have recorded');
    t.same(await w.c.request(aMsg), approved, "a repeat of the stand-in approval gets the stand-in's answer");
    const recordOf = async (balanceId: string, stan: string) =>
      (await w.records.list({ balanceId, limit: 10 })).items.find((r) => r.transactionData.retrievalReferenceNumber === `RRN${stan}000`);
    t.match(await recordOf(dCard.balanceId, '000042'), { processingStatus: 'DECLINED', responseCode: '91', reason: 'BUDGET_DEADLINE_PASSED' }, 'the record says what was answered');
    t.match(await recordOf(aCard.balanceId, '000043'), { processingStatus: 'SUCCESS', responseCode: '00', reason: 'APPROVED' });
    t.equal((await w.records.list({ balanceId: dCard.balanceId, limit: 10 })).items.length, 2, 'one record per message, not two');
    const dTx = await w.ledger.getTransaction(dCard.balanceId, `${dCard.cardId}.010.${F7}.000042.00000123456.TERM0001`);
    // Landed first: released (REVERSED). Landed behind the stand-in's record: its guard found the
    // cached 91 and it did nothing, so there is no transaction to undo.
    t.ok(dTx === null || (dTx.status === 'REVERSED' && dTx.heldMinor === 0), 'the 91 holds nothing: its late hold released, or it did nothing');
    t.match(await w.ledger.getUserBalance(dCard.balanceId), { availableMinor: 9_900, blockedMinor: 100 }, 'only the warm-up is held');
    t.match(await w.ledger.getUserBalance(aCard.balanceId), { availableMinor: 6_900, blockedMinor: 3_100 }, 'the stand-in approval held once');
    await ledgerSound(t, w);
  });
}

t.test('latency budget, remembered card: a repeat that meets the deadline leaves the first answer, its record and its hold as they were', async (t) => {
  const { w, dCard } = await budgetWorld(t, 51, 10_000, { WORKERS: '1' });
  t.equal((await w.c.request(msg('0100', dCard.pan, '000050', 100)))['39'], '00', 'the card is read and remembered');
  const first = msg('0100', dCard.pan, '000051', 1_000);
  const answered = await w.c.request(first);
  t.equal(answered['39'], '00', 'approved; its hold wrote its record and cached answer');
  // The repeat is decided with the remembered card: its hold (whose guard finds the first answer)
  // meets stalled writes, and the DECLINE stand-in answers it at the deadline.
  await w.s.redis.client.call('CLIENT', 'PAUSE', '400', 'WRITE');
  const repeat = await w.c.request(first);
  t.equal(repeat['39'], '91', 'the repeat met the deadline');
  await new Promise((r) => setTimeout(r, 800));
  t.same(await w.c.request(first), answered, 'a later repeat gets the first answer');
  const rec = (await w.records.list({ balanceId: dCard.balanceId, limit: 10 })).items.find((r) => r.transactionData.retrievalReferenceNumber === 'RRN000051000');
  t.match(rec, { processingStatus: 'SUCCESS', responseCode: '00' }, 'the first answer\'s record stands');
  const tx = await w.ledger.getTransaction(dCard.balanceId, `${dCard.cardId}.010.${F7}.000051.00000123456.TERM0001`);
  t.equal(tx?.status, 'AUTHORIZED', "the repeat's stand-in decline did not undo the first answer's hold");
  t.match(await w.ledger.getUserBalance(dCard.balanceId), { availableMinor: 8_900, blockedMinor: 1_100 }, 'both approvals held, once each');
  await ledgerSound(t, w);
});

t.test('on a 3-master Redis Cluster: batched holds, records, the duplicate cache and PAN + 37 matching', async (t) => {
  const cluster = await startTestCluster(t);
  const env = { REDIS_CLUSTER: cluster.seeds.map((s) => `${s.host}:${s.port}`).join(','), REDIS_URL: '' };
  const { startSwitch } = await import('../app/start.js');
  const { loadConfig } = await import('../app/config.js');
  const { derive } = await import('../stores/secrets.js');
  const secrets = derive(randomBytes(32), 'env');
  const app = await startSwitch({ config: loadConfig({ ISO_PORT: '0', HTTP_PORT: '0', WORKERS: '2', DATABASE_URL: await sharedTestDatabase(), ...env }), placement: 'workers', secrets, log: () => {} });
  t.teardown(() => app.stop());
  const ledger = await Ledger.open(cluster.client);
  const cards = CardStore.fromSecrets(cluster.client, secrets);
  const records = new TransactionRecords(cluster.client, ledger);
  const seeded: { pan: string; cardId: string; balanceId: string }[] = [];
  for (let n = 0; n < 12; n++) {
    const pan = '555770' + '00000' + String(100 + n).padStart(5, '0');
    const bal = await ledger.createUserBalance({ customerId: 'cc-' + n, currency: 'EUR', configId: '0019167984' });
    await ledger.post({ type: 'TOPUP', idempotencyKey: 'cseed-' + n, txId: 'cseed-' + n, balanceId: bal.id, amountMinor: 10_000, partnerId: null });
    await cards.put(pan, { id: 'ccard-' + n, customerId: 'cc-' + n, balanceId: bal.id, configId: '0019167984', currency: 'EUR', expiry: EXP, status: 'ACTIVE', lock: 0 });
    seeded.push({ pan, cardId: 'ccard-' + n, balanceId: bal.id });
  }
  const c = await IsoClient.connect(app.isoPort);
  t.teardown(() => c.close());
  // Twelve cards in one burst: their holds leave as batched calls, one per slot group.
  const answers = await Promise.all(seeded.map((s, n) => c.request(msg('0100', s.pan, String(500 + n).padStart(6, '0'), 1_000))));
  t.same(answers.map((a) => a['39']), seeded.map(() => '00'), 'every hold approved');
  for (const s of seeded) t.match(await ledger.getUserBalance(s.balanceId), { availableMinor: 9_000, blockedMinor: 1_000 });
  await new Promise((r) => setTimeout(r, 300));
  const again = await c.request(msg('0100', seeded[0]!.pan, '000500', 1_000));
  t.equal(again['39'], '00', 'a duplicate gets the first answer');
  t.match(await ledger.getUserBalance(seeded[0]!.balanceId), { blockedMinor: 1_000 }, 'and holds nothing more');
  for (const s of seeded) t.equal((await records.list({ cardId: s.cardId, limit: 5 })).items.length, 1, `record of ${s.cardId}`);
  // A reversal without field 90 finds its original by PAN + field 37.
  t.equal((await c.request({ ...msg('0400', seeded[3]!.pan, '000900', 1_000), 37: 'RRN000503000' }))['39'], '00');
  t.match(await ledger.getUserBalance(seeded[3]!.balanceId), { availableMinor: 10_000, blockedMinor: 0 }, 'released');
  const report = await checkLedger(cluster.client, app.history.reads);
  t.ok(report.ok, 'ledger check passes');
});

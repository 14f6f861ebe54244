// Customer state against a real Redis: KYC, transactional locks (idempotent, seed reasons only),
// and the denormalized "debits blocked" flag on every card of the customer, which the
// authorization reads with the card; all of it on a Redis Cluster too. The end-to-end 62 is in
// test/cards.test.ts.
import t from 'tap';
import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { startTestRedis } from './helpers/redis.js';
import { startTestCluster } from './helpers/cluster.js';
import { CardStore, type IssueInput } from '../stores/cards.js';
import { CustomerStore, TRANSACTIONAL_LOCK_REASONS } from '../stores/customers.js';
import { AppError } from '../errors/index.js';
import { derive } from '../stores/secrets.js';

const DEMO = { configId: '0019167984', bin: '555770', panLength: 16, cardValidityMonths: 36 };

function stores(redis: Redis): { cards: CardStore; customers: CustomerStore } {
  const cards = CardStore.fromSecrets(redis, derive(randomBytes(32), 'env'));
  return { cards, customers: new CustomerStore(redis, cards) };
}

function input(customerId: string): IssueInput {
  return { customerId, balanceId: 'g00:bal', currency: 'EUR', kind: 'VIRTUAL', program: DEMO };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try { await p; return 'resolved'; } catch (e) { return (e as { code?: string }).code ?? String(e); }
}

t.test('create, read, KYC', async (t) => {
  const r = await startTestRedis(t);
  const { customers } = stores(r.client);
  const a = await customers.create({ kyc: 'PENDING', nowMs: 1_000 });
  const b = await customers.create({ kyc: 'SUCCESS' });
  t.equal(a.id, '1', 'integer ids');
  t.equal(b.id, '2');
  t.same(await customers.get(a.id), { id: '1', kyc: 'PENDING', locks: [], debitsBlocked: false, createdAtMs: 1_000 });
  await customers.setKyc(a.id, 'SUCCESS');
  t.equal((await customers.get(a.id))?.kyc, 'SUCCESS');
  await customers.setKyc(a.id, 'REJECTED');
  t.equal((await customers.get(a.id))?.kyc, 'REJECTED');
  t.equal(await customers.get('404'), null);
  t.equal(await codeOf(customers.setKyc('404', 'SUCCESS')), 'CUSTOMER_NOT_FOUND');
  t.equal(await codeOf(customers.setKyc(a.id, 'MAYBE' as 'SUCCESS')), 'CUSTOMER_INVALID_KYC');
  t.equal(await codeOf(customers.create({ kyc: 'SUCCESS', id: a.id })), 'CUSTOMER_EXISTS');
  t.equal(await codeOf(customers.create({ kyc: 'SUCCESS', id: 'a}b' })), 'CUSTOMER_INVALID_ARGUMENT', 'no hash-tag characters in ids');
  const e = await customers.create({ kyc: 'SUCCESS', id: a.id }).catch((x: unknown) => x as AppError);
  t.equal((e as AppError).httpStatus, 409);
});

t.test('update: profile fields and KYC in one step; KYC gates card attachment, not existing cards', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customers } = stores(r.client);
  const profile = { firstName: 'Ada', lastName: 'Lovelace', phone: '48500100200', email: 'ada@example.com', birthDate: '1990-12-10', state: 'X' };
  const c = await customers.create({ kyc: 'PENDING', nowMs: 5, profile });
  t.equal(await codeOf(cards.issue(input(c.id))), 'KYC_REQUIRED', 'PENDING: no card');
  const w = await customers.update(c.id, { kyc: 'SUCCESS', profile: { phone: '48600700800' } });
  t.same(w, { customer: { id: c.id, kyc: 'SUCCESS', locks: [], debitsBlocked: false, createdAtMs: 5 }, profile: { ...profile, phone: '48600700800' } });
  t.same(await customers.getWallet(c.id), w, 'getWallet reads what update answered');
  const card = await cards.issue(input(c.id));
  await customers.update(c.id, { kyc: 'REJECTED' });
  t.equal(await codeOf(cards.issue(input(c.id))), 'KYC_REQUIRED', 'REJECTED: no new card');
  t.equal((await cards.get(card.card.id))?.debitsBlocked, false, 'the existing card is not blocked by KYC');
  const bare = await customers.create({ kyc: 'SUCCESS' });
  t.same((await customers.update(bare.id, { profile: { state: 'Y' } })).profile, { state: 'Y' }, 'a customer without a profile gets the fields sent');
  t.equal(await codeOf(customers.update('404', { kyc: 'SUCCESS' })), 'CUSTOMER_NOT_FOUND');
  t.equal(await r.client.exists('customer:{404}'), 0, 'an update does not create a customer');
  t.equal(await codeOf(customers.update(c.id, {})), 'CUSTOMER_INVALID_ARGUMENT', 'an empty change is refused');
  t.equal(await codeOf(customers.update(c.id, { kyc: 'MAYBE' as 'SUCCESS' })), 'CUSTOMER_INVALID_KYC');
  t.equal(await customers.getWallet('404'), null);
});

t.test('transactional locks: idempotent, any one blocks debits on every card', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customers } = stores(r.client);
  const c = await customers.create({ kyc: 'SUCCESS' });
  const other = await customers.create({ kyc: 'SUCCESS' });
  const mine = await Promise.all([cards.issue(input(c.id)), cards.issue(input(c.id))]);
  const theirs = await cards.issue(input(other.id));
  const blocked = async () => Promise.all([...mine, theirs].map(async (x) => (await cards.findByPan(x.pan))?.debitsBlocked));
  t.same(await blocked(), [false, false, false], 'no locks');

  t.match(await customers.addLock(c.id, 'FRAUD_SUSPECTED'), { locks: ['FRAUD_SUSPECTED'], debitsBlocked: true });
  t.same(await blocked(), [true, true, false], "every card of the customer, and only the customer's");
  t.match(await customers.addLock(c.id, 'FRAUD_SUSPECTED'), { locks: ['FRAUD_SUSPECTED'] }, 'adding again changes nothing');
  await customers.addLock(c.id, 'POLICE_LOCK');
  t.same((await customers.get(c.id))?.locks, ['FRAUD_SUSPECTED', 'POLICE_LOCK']);
  await customers.removeLock(c.id, 'FRAUD_SUSPECTED');
  t.same(await blocked(), [true, true, false], 'one lock left: still blocked');
  await customers.removeLock(c.id, 'FRAUD_SUSPECTED');
  t.same((await customers.get(c.id))?.locks, ['POLICE_LOCK'], 'removing again changes nothing');
  await customers.removeLock(c.id, 'POLICE_LOCK');
  t.same(await blocked(), [false, false, false], 'last lock removed: debits allowed');
  t.match(await customers.get(c.id), { locks: [], debitsBlocked: false });

  await customers.addLock(c.id, 'SCREENING_DETECTED');
  const late = await cards.issue(input(c.id));
  t.equal((await cards.findByPan(late.pan))?.debitsBlocked, true, 'a card issued while locked is blocked from the start');
  const seeded = await cards.put('5557701234561234', { id: 'seeded', customerId: c.id, balanceId: 'b', configId: DEMO.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  t.equal(seeded.debitsBlocked, true, 'so is a seeded one');
  const again = await cards.put('5557701234561234', { id: 'seeded', customerId: c.id, balanceId: 'b2', configId: DEMO.configId, currency: 'EUR', expiry: '3012', status: 'ACTIVE', lock: 0 });
  t.match(again, { balanceId: 'b2', debitsBlocked: true }, 'seeding again replaces the card');

  t.equal(await codeOf(customers.addLock(c.id, 'BORED')), 'CUSTOMER_INVALID_LOCK_REASON');
  t.equal(await codeOf(customers.addLock('404', 'FRAUD_SUSPECTED')), 'CUSTOMER_NOT_FOUND');
  t.equal(await codeOf(customers.removeLock('404', 'FRAUD_SUSPECTED')), 'CUSTOMER_NOT_FOUND');
  for (const reason of TRANSACTIONAL_LOCK_REASONS) await customers.addLock(other.id, reason);
  t.equal((await customers.get(other.id))?.locks.length, 12, "every one of the seed's twelve reasons is accepted");
});

t.test('the flag never goes back to an older lock version; sync repairs a card', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customers } = stores(r.client);
  const c = await customers.create({ kyc: 'SUCCESS' });
  const { card, pan } = await cards.issue(input(c.id));
  await customers.addLock(c.id, 'TEMPORARY_LOCKED'); // lock version 1
  await cards.applyCustomerBlock(card.id, 0, false);  // a late write of version 0
  t.equal((await cards.findByPan(pan))?.debitsBlocked, true, 'a stale write is ignored');
  // As if a crash had stopped propagation: the card says unblocked at a newer version.
  await r.client.hset('card:pan:' + cards.panIndex(pan), 'db', '0');
  t.equal((await cards.findByPan(pan))?.debitsBlocked, false);
  await customers.sync(c.id);
  t.equal((await cards.findByPan(pan))?.debitsBlocked, true, 'sync re-applies the customer state');
});

t.test('issuing needs an existing customer with KYC SUCCESS', async (t) => {
  const r = await startTestRedis(t);
  const { cards, customers } = stores(r.client);
  const pending = await customers.create({ kyc: 'PENDING' });
  const rejected = await customers.create({ kyc: 'REJECTED' });
  t.equal(await codeOf(cards.issue(input(pending.id))), 'KYC_REQUIRED');
  t.equal(await codeOf(cards.issue(input(rejected.id))), 'KYC_REQUIRED');
  t.equal(await codeOf(cards.issue(input('404'))), 'CUSTOMER_NOT_FOUND');
  t.same(await r.client.keys('card:*'), [], 'a refused issue leaves no card behind');
  await customers.setKyc(pending.id, 'SUCCESS');
  t.equal((await cards.issue(input(pending.id))).card.customerId, pending.id, 'after KYC it works');
});

t.test('on a 3-master Redis Cluster every card and customer operation stays in one slot', async (t) => {
  const c = await startTestCluster(t);
  const cards = CardStore.fromSecrets(c.client, derive(randomBytes(32), 'env'));
  const customers = new CustomerStore(c.client, cards);
  const cust = await customers.create({ kyc: 'SUCCESS' });
  const issued = await Promise.all(Array.from({ length: 20 }, (_, i) => cards.issue({ ...input(cust.id), kind: i % 2 ? 'PHYSICAL' : 'VIRTUAL' })));
  const phys = issued[1]!;
  await cards.activate(phys.card.id);
  await cards.lock(issued[0]!.card.id, 7);
  await cards.unlock(issued[0]!.card.id);
  await cards.lockOutside(issued[2]!.pan, 1);
  for (let i = 0; i < 3; i++) await cards.recordPinFailure(issued[3]!.pan);
  await cards.recordPinSuccess(issued[4]!.pan);
  await customers.addLock(cust.id, 'ZEN_LOCK');
  t.same((await Promise.all(issued.map((x) => cards.findByPan(x.pan)))).map((x) => x?.debitsBlocked), issued.map(() => true), 'every card blocked');
  await customers.removeLock(cust.id, 'ZEN_LOCK');
  t.match(await cards.findByPan(issued[0]!.pan), { lock: 0, debitsBlocked: false });
  t.match(await cards.findByPan(issued[2]!.pan), { lock: 1 });
  t.match(await cards.findByPan(issued[3]!.pan), { lock: 6 });
  t.equal((await cards.get(phys.card.id))?.status, 'ACTIVE');
  t.equal(await cards.revealPan(phys.card.id), phys.pan);
  t.equal(await codeOf(cards.issue(input('404'))), 'CUSTOMER_NOT_FOUND', 'a refused issue cleans up across slots');
});

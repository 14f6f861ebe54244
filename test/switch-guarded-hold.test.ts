// An authorization of a card this thread has already read is decided in one round trip: the card
// comes from memory and the hold's own script re-checks it (and that the message is no repeat).
// What a user must never notice: a lock, an unlock, a customer block or new limits apply to the
// very next authorization, and a repeat still gets the first answer and moves nothing twice.
import t, { type Test } from 'tap';
import { seedDemoCard, startTestSwitch, type TestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { msg } from './helpers/e2e.js';
import { Ledger } from '../ledger/index.js';
import { CardStore } from '../stores/cards.js';
import { checkLedger } from '../ledger/check.js';

const PAN = '5557700000000026';
const EXP = '3012';
const DEMO = '0019167984';

function seed(s: TestSwitch): Promise<{ ledger: Ledger; balanceId: string; cards: CardStore }> {
  return seedDemoCard(s, { pan: PAN, cardId: 'card-guard', customerId: 'cust-guard', topUpMinor: 10_000, depositMinor: 1_000_000 });
}

/** An 0100 purchase for the card (the shared builder of test/helpers/e2e.ts). */
function auth(stan: string, amountMinor: number): IsoJson {
  return msg('0100', { pan: PAN, expiry: EXP, cardId: 'card-guard', balanceId: '', customerId: 'cust-guard' }, stan, '00', amountMinor);
}

async function commandCalls(s: TestSwitch, cmd: string): Promise<number> {
  const m = new RegExp(`cmdstat_${cmd}:calls=(\\d+)`).exec(await s.redis.client.info('commandstats'));
  return m === null ? 0 : Number(m[1]);
}

/** Two approved authorizations in a row (STANs 000001, 000002): the card reads (HGETALL) the second cost. */
async function cardReadsOfSecond(t: Test, s: TestSwitch, c: IsoClient): Promise<number> {
  t.equal((await c.request(auth('000001', 100)))['39'], '00');
  const reads = await commandCalls(s, 'hgetall');
  t.equal((await c.request(auth('000002', 100)))['39'], '00');
  return (await commandCalls(s, 'hgetall')) - reads;
}

for (const placement of ['main', 'workers'] as const) {
  t.test(`${placement}: a remembered card still takes every change on the next authorization`, async (t) => {
    // One worker, so that the second message meets the card the first one read.
    const s = await startTestSwitch(t, { placement, env: { WORKERS: '1' } });
    const { ledger, balanceId, cards } = await seed(s);
    const c = await IsoClient.connect(s.app.isoPort);
    t.teardown(() => c.close());
    const held = async () => (await ledger.getUserBalance(balanceId))?.blockedMinor;

    t.equal((await c.request(auth('000001', 1_000)))['39'], '00', 'first authorization: the card is read');
    const reads = await commandCalls(s, 'hgetall');
    t.equal((await c.request(auth('000002', 1_000)))['39'], '00', 'second authorization approved');
    t.equal(await commandCalls(s, 'hgetall'), reads, 'without reading the card record again');
    t.equal(await held(), 2_000);

    await cards.lock('card-guard', 3);
    const locked = await c.request(auth('000003', 1_000));
    t.not(locked['39'], '00', 'a lock set after the card was remembered declines the very next authorization');
    t.equal(await held(), 2_000, 'and nothing is held for it');
    await cards.unlock('card-guard');
    const un = await c.request(auth('000004', 1_000));
    t.equal(un['39'], '00', 'the unlock applies at once too');

    await cards.applyCustomerBlock('card-guard', 1, true);
    t.equal((await c.request(auth('000005', 1_000)))['39'], '62', "the customer's transactional lock declines the next debit");
    await cards.applyCustomerBlock('card-guard', 2, false);

    await cards.setLimits('card-guard', { perTransaction: 500, dailyAmount: null, dailyCount: null, atmDailyAmount: null });
    t.equal((await c.request(auth('000006', 1_000)))['39'], '61', 'a per-transaction limit set meanwhile applies');
    t.equal((await c.request(auth('000007', 400)))['39'], '00', 'under it: approved');
    t.equal(await held(), 3_400);
    await cards.setLimits('card-guard', { perTransaction: null, dailyAmount: null, dailyCount: null, atmDailyAmount: null });

    // The other writers of a card record count its version up too.
    await cards.recordPinFailure(PAN, 'ONLINE', 1);
    t.not((await c.request(auth('000011', 100)))['39'], '00', 'a lock set by too many PIN failures declines the next authorization');
    await cards.unlock('card-guard');
    const seedAgain = { id: 'card-guard', customerId: 'cust-guard', balanceId, configId: DEMO, currency: 'EUR', expiry: EXP, lock: 0 };
    await cards.put(PAN, { ...seedAgain, status: 'INACTIVE' });
    t.not((await c.request(auth('000012', 100)))['39'], '00', 'a record replaced under the same PAN and id (now inactive) is not decided from memory');
    await cards.put(PAN, { ...seedAgain, status: 'ACTIVE' });
    t.equal((await c.request(auth('000013', 100)))['39'], '00', 'replaced again (active): approved');
    t.equal(await held(), 3_500);

    // A repeat of an answered message: the script finds its duplicate entry, the first answer is sent.
    const first = await c.request(auth('000008', 300));
    t.equal(first['39'], '00');
    const again = await c.request(auth('000008', 300));
    t.same(again, first, 'a repeat gets the first answer');
    t.equal(await held(), 3_800, 'and holds nothing twice');
    const report = await checkLedger(s.redis.client, s.app.history.reads);
    t.ok(report.ok, 'ledger check passes');
  });
}

t.test('a card record without a version (stored before versions existed) is read for every authorization', async (t) => {
  const s = await startTestSwitch(t, { placement: 'main' });
  const { cards } = await seed(s);
  await s.redis.client.hdel('card:pan:' + cards.panIndex(PAN), 'v');
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  t.equal(await cardReadsOfSecond(t, s, c), 1, 'one HGETALL for the second: nothing was remembered that no version could guard');
  await cards.lock('card-guard', 3);
  t.not((await c.request(auth('000003', 100)))['39'], '00', 'its first write gives it a version, and a lock still applies at once');
});

t.test('CARD_CACHE=off reads the card for every authorization', async (t) => {
  const s = await startTestSwitch(t, { placement: 'main', env: { CARD_CACHE: 'off' } });
  await seed(s);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());
  t.equal(await cardReadsOfSecond(t, s, c), 1, 'one HGETALL for the second');
});

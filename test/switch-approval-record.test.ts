// An 0100 or 0200 debit of a card the deciding thread remembers is approved in one script call:
// the hold's own script writes the message's record and cached answer (HoldArgs.record), and fills
// the cached answer's field 54 with the balances after the hold. What a user notices: the answer
// carries the right balances, a repeat gets it back field for field, the record is there, and
// nothing is written after the answer (no second script call per approval).
import t from 'tap';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { seedDemoCard, startTestSwitch, type TestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { field54, msg } from './helpers/e2e.js';
import { Ledger } from '../ledger/index.js';
import { TransactionRecords } from '../stores/records.js';
import { checkLedger } from '../ledger/check.js';
import { loadScripts, projectRoot } from '../ledger/scripts.js';

const PAN = '5557700000000034';
const EXP = '3012';
const DEMO = '0019167984';
const CARD = { pan: PAN, expiry: EXP, cardId: 'card-rec', balanceId: '', customerId: 'cust-rec' };

const sha = (lua: string) => createHash('sha1').update(lua).digest('hex');
const HOLD_MANY = sha(loadScripts().find((s) => s.name === 'hold-many')!.lua);
const RECORD_WRITE = sha(loadScripts(join(projectRoot(), 'stores', 'lua')).find((s) => s.name === 'record-write-many')!.lua);

async function seed(s: TestSwitch): Promise<{ ledger: Ledger; balanceId: string }> {
  return seedDemoCard(s, { pan: PAN, cardId: 'card-rec', customerId: 'cust-rec', topUpMinor: 10_000, depositMinor: 1_000_000 });
}

/**
 * The script calls (EVALSHA digests) Redis runs while `fn` is answered, and a little after, read
 * from the slow log with every command logged (top-level commands only: a script's own commands
 * are not listed). No MONITOR connection, whose stream can race the client's command queue.
 */
async function scriptCallsDuring(s: TestSwitch, fn: () => Promise<IsoJson>): Promise<{ res: IsoJson; shas: string[] }> {
  const redis = s.redis.client;
  await redis.config('SET', 'slowlog-max-len', '100000');
  await redis.config('SET', 'slowlog-log-slower-than', '0');
  await redis.slowlog('RESET');
  try {
    const res = await fn();
    await new Promise((r) => setTimeout(r, 400));
    const entries = await redis.slowlog('GET', 100000) as Array<[number, number, number, Array<string | Buffer>]>;
    const shas = entries.filter((e) => String(e[3][0]).toLowerCase() === 'evalsha').map((e) => String(e[3][1]));
    return { res, shas };
  } finally {
    await redis.config('SET', 'slowlog-log-slower-than', '10000');
  }
}

// The 2003 dialect's field 39 has four digits; field 54 still ends the answer.
const RUNS = [
  { placement: 'main', dialect: '1987' }, { placement: 'workers', dialect: '1987' }, { placement: 'main', dialect: '2003' },
] as const;

for (const { placement, dialect } of RUNS) {
  t.test(`${placement}, ${dialect}: a remembered card's approval is recorded by its hold, in one script call`, async (t) => {
    const s = await startTestSwitch(t, { placement, env: { WORKERS: '1', ...(dialect === '2003' ? { ISO_DIALECT: '2003' } : {}) } });
    const { ledger, balanceId } = await seed(s);
    const records = new TransactionRecords(s.redis.client, ledger);
    const n4 = { 39: { ContentType: 'n', Label: 'Response code', LenType: 'fixed', MaxLen: 4 } };
    const c = await IsoClient.connect(s.app.isoPort, dialect === '2003' ? n4 : undefined);
    const ok = dialect === '2003' ? '0000' : '00';
    t.teardown(() => c.close());

    const first = await c.request(msg('0100', CARD, '000001', '00', 1_000));
    t.equal(first['39'], ok, 'the first authorization reads the card');

    const auth = msg('0100', CARD, '000002', '00', 2_000);
    const { res, shas } = await scriptCallsDuring(s, () => c.request(auth));
    t.equal(res['39'], ok, 'the second is decided with the remembered card');
    t.equal(res['54'], field54(10_000, 7_000), 'field 54: ledger 10,000 and available 7,000 after both holds');
    t.equal(shas.filter((x) => x === HOLD_MANY).length, 1, 'one hold call');
    t.equal(shas.filter((x) => x === RECORD_WRITE).length, 0, 'and no record write after the answer');

    const listed = (await records.list({ balanceId, limit: 10 })).items.find((r) => r.transactionData.retrievalReferenceNumber === 'RRN000002000');
    t.match(listed, { processingStatus: 'SUCCESS', responseCode: ok, reason: 'APPROVED', amount: 2_000, status: 'AUTHORIZED', cardId: 'card-rec', mti: '0100' }, 'its record, as the hold wrote it');
    t.same(await c.request(auth), res, 'a repeat gets the first answer, field 54 as the hold filled it in');
    t.equal((await ledger.getUserBalance(balanceId))?.blockedMinor, 3_000, 'and holds nothing twice');

    const debit = msg('0200', CARD, '000003', '00', 500);
    const posted = await scriptCallsDuring(s, () => c.request(debit));
    t.equal(posted.res['39'], ok, 'an 0200 debit of the remembered card');
    t.equal(posted.res['54'], field54(9_500, 6_500), 'field 54 after the post: ledger 9,500, available 6,500');
    t.equal(posted.shas.filter((x) => x === RECORD_WRITE).length, 0, 'recorded by its own script call too');
    t.same(await c.request(debit), posted.res, 'its repeat gets the first answer');

    const tooMuch = msg('0100', CARD, '000004', '00', 50_000);
    const declined = await scriptCallsDuring(s, () => c.request(tooMuch));
    t.equal(declined.res['39'], dialect === '2003' ? '1016' : '51', 'a decline for insufficient funds');
    t.equal(declined.shas.filter((x) => x === RECORD_WRITE).length, 1, 'is recorded after the answer, as before');
    t.same(await c.request(tooMuch), declined.res, 'and its repeat gets the decline');
    const rec = (await records.list({ balanceId, limit: 10 })).items.find((r) => r.transactionData.retrievalReferenceNumber === 'RRN000004000');
    t.match(rec, { processingStatus: 'DECLINED', responseCode: declined.res['39'] });

    const report = await checkLedger(s.redis.client, s.app.history.reads);
    t.ok(report.ok, 'ledger check passes');
  });
}

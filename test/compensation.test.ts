// Undoing a debit whose answer was not 00 (switch/process/compensation.ts): the path a batch that
// failed as a whole takes (the main thread answers it 96 and undoes its debits from the wire).
// Real switch, real Redis; the ledger checker runs at the end.
import t from 'tap';
import { seedDemoCard, startTestSwitch } from './helpers/switch.js';
import { IsoClient, type IsoJson } from './helpers/iso-client.js';
import { compensate, compensationsPending, drainCompensations, undoRequest } from '../switch/process/run/compensation.js';
import { checkLedger } from '../ledger/check.js';
import { TransactionRecords } from '../stores/records.js';
import type { IsoFields } from '../iso/codec.js';

const F7 = '1125101500';
const fieldsOf = (m: IsoJson): IsoFields => new Map(Object.entries(m).filter(([k]) => k !== '0').map(([k, v]) => [Number(k), String(v)]));

function msg(mti: string, pan: string, stan: string, amountMinor: number): IsoJson {
  return {
    0: mti, 2: pan, 3: '000000', 4: String(amountMinor).padStart(12, '0'), 7: F7, 11: stan, 14: '3012', 18: '5411', 22: '051',
    32: '123456', 37: 'RRN' + stan + '000', 41: 'TERM0001', 42: 'MERCHANT0000001', 49: '978',
  } as IsoJson;
}

t.test('undoRequest: a held 0100 released, a posted 0200 credited back, an unseen 0100 refused later', async (t) => {
  const s = await startTestSwitch(t);
  const pan = '5557700000077777';
  const { ledger, cards, balanceId } = await seedDemoCard(s, { pan, cardId: 'comp-card', customerId: 'comp-1', topUpMinor: 10_000 });
  const bal = { id: balanceId };
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());

  const auth = msg('0100', pan, '000001', 2_000);
  t.equal((await c.request(auth))['39'], '00');
  t.equal(await undoRequest(ledger, cards, '0100', fieldsOf(auth)), true);
  t.equal((await ledger.getTransaction(bal.id, `comp-card.010.${F7}.000001.00000123456.TERM0001`))?.status, 'REVERSED', 'the hold is released');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 10_000, blockedMinor: 0 });
  t.equal(await undoRequest(ledger, cards, '0100', fieldsOf(auth)), true, 'twice');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 10_000, blockedMinor: 0 }, 'changes nothing more');

  const fin = msg('0200', pan, '000002', 3_000);
  t.equal((await c.request(fin))['39'], '00');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 7_000 });
  await undoRequest(ledger, cards, '0200', fieldsOf(fin));
  await undoRequest(ledger, cards, '0200', fieldsOf(fin));
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 10_000, blockedMinor: 0 }, 'the posted debit is credited back, once');

  const unseen = msg('0100', pan, '000003', 1_000);
  await undoRequest(ledger, cards, '0100', fieldsOf(unseen));
  t.equal((await c.request(unseen))['39'], '05', 'a hold arriving after its undo is refused');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 10_000, blockedMinor: 0 });

  t.equal(await undoRequest(ledger, cards, '0400', fieldsOf(msg('0400', pan, '000004', 1))), false, 'not a debit request');
  t.equal(await undoRequest(ledger, cards, '0100', fieldsOf({ ...msg('0100', pan, '000005', 1), 3: '280000' } as IsoJson)), false, 'a credit is left');
  t.ok((await checkLedger(s.redis.client, s.app.history.reads)).ok, 'ledger check passes');
});

t.test('undoRequest with the answer cache: an approval its hold recorded is forgotten, so a repeat of the 96 is decided again', async (t) => {
  // One worker: the second message meets the card the first one read, and its hold writes the
  // approval's record and cached answer itself (HoldArgs.record).
  const s = await startTestSwitch(t, { env: { WORKERS: '1' } });
  const pan = '5557700000077785';
  const { ledger, cards, balanceId } = await seedDemoCard(s, { pan, cardId: 'comp-card-2', customerId: 'comp-2', topUpMinor: 10_000 });
  const bal = { id: balanceId };
  const records = new TransactionRecords(s.redis.client, ledger);
  const c = await IsoClient.connect(s.app.isoPort);
  t.teardown(() => c.close());

  t.equal((await c.request(msg('0100', pan, '000011', 1_000)))['39'], '00', 'the card is read and remembered');
  const auth = msg('0100', pan, '000012', 2_000);
  t.equal((await c.request(auth))['39'], '00', 'approved, recorded by the hold');
  const listed = async () => (await records.list({ balanceId: bal.id, limit: 10 })).items.map((r) => r.transactionData.retrievalReferenceNumber);
  t.ok((await listed()).includes('RRN000012000'), 'its record is there');

  // As if its batch had failed as a whole after the hold: answered 96, undone from the wire.
  await undoRequest(ledger, cards, '0100', fieldsOf(auth), { store: records, panIndexKey: s.app.secrets.panIndexKey });
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 9_000, blockedMinor: 1_000 }, 'the hold is released');
  t.notOk((await listed()).includes('RRN000012000'), 'its record is forgotten');
  const again = await c.request(auth);
  t.not(again['39'], '00', 'a repeat is decided again, not answered 00 from the cache');
  t.match(await ledger.getUserBalance(bal.id), { availableMinor: 9_000, blockedMinor: 1_000 }, 'and holds nothing');
  t.ok((await checkLedger(s.redis.client, s.app.history.reads)).ok, 'ledger check passes');
});

t.test('a stop drains the undos still retrying: one failing while Redis is away lands once it is back, and one that cannot is counted', async (t) => {
  let up = false;
  let done = 0;
  let tries = 0;
  compensate(async () => { tries++; if (!up) throw new Error('Redis away'); done++; });
  await new Promise((r) => setTimeout(r, 150));
  t.equal(compensationsPending(), 1, 'its first attempts failed: waiting on its backoff');
  setTimeout(() => { up = true; }, 200);
  t.equal(await drainCompensations(5_000), 0, 'the drain waits until it has landed');
  t.equal(done, 1, 'done once');
  t.ok(tries >= 3, `tried again at once while draining (${tries} attempts)`);

  let back = false;
  compensate(async () => { if (!back) throw new Error('Redis gone'); });
  t.equal(await drainCompensations(300), 1, 'bounded: a drain that cannot finish says how many are left');
  back = true;
  t.equal(await drainCompensations(5_000), 0, 'and they are still retried afterwards');
});

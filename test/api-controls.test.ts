// Spend controls as data: a card's own over GET/PUT .../cards/{cardId}/controls (validation,
// 404s, promotion by one PUT), a program's from PROGRAMS_FILE (listed with the card's, validated
// at start-up), and the card store's write that counts the record's version up so that a card a
// deciding thread remembers is read again.
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { issueVirtualCard, serverKinds, startApiSwitch, walletWithBalance } from './helpers/api.js';
import { startTestRedis } from './helpers/redis.js';
import { CardStore } from '../stores/cards.js';
import { CustomerStore } from '../stores/customers.js';
import { derive } from '../stores/secrets.js';
import { loadPrograms, normalizeProgram } from '../stores/programs.js';
import { mccRange, parseControls, velocityCounterOf, type SpendControl } from '../stores/controls.js';
import { Ledger, PreconditionFailedError } from '../ledger/index.js';

const DEMO = { configId: '0019167984', bin: '555770', currency: 'EUR', mode: 'INTERNAL', depositRequired: false, creditRequired: false };
const PROGRAM_CONTROLS = [
  { id: 'no-gambling', type: 'MCC_BLOCK', values: ['7995', '7800-7802'] },
  { id: 'monthly', mode: 'SHADOW', type: 'VELOCITY', window: 'MONTH', amount: 500_000, scope: 'ALL' },
];

for (const { kind, skip } of serverKinds()) {
  t.test(`card controls API, HTTP on ${kind}`, { skip }, async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'controls-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    const file = join(dir, 'programs.json');
    writeFileSync(file, JSON.stringify([{ ...DEMO, controls: PROGRAM_CONTROLS }]));
    const s = await startApiSwitch(t, kind, { PROGRAMS_FILE: file });
    const api = s.api;
    const { customerId, balanceId } = await walletWithBalance(api);
    const card = await issueVirtualCard(api, customerId, balanceId);
    const path = `/secure/customers/${customerId}/cards/${card.id}/controls`;
    const program = [
      { id: 'no-gambling', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995', '7800-7802'], source: 'PROGRAM' },
      { id: 'monthly', mode: 'SHADOW', type: 'VELOCITY', window: 'MONTH', amount: 500_000, scope: 'ALL', source: 'PROGRAM' },
    ];

    const first = await api.get(path);
    t.equal(first.status, 200);
    t.same(first.json, { controls: program }, 'a new card: its program\'s controls only, defaults filled in');
    t.same((await api.get('/secure/programs/0019167984')).json.controls, program.map(({ source: _s, ...c }) => c), 'the program lists them too');

    const own = [
      { id: 'eu-only', type: 'COUNTRY_ALLOW', values: ['POL', 'DEU'] },
      { id: 'atm-day', mode: 'SHADOW', type: 'VELOCITY', window: 'DAY', count: 3, scope: 'CASH' },
      { id: 'per-tx', type: 'VELOCITY', window: 'TRANSACTION', amount: 5_000 },
      { id: 'shop-x', type: 'MERCHANT_BLOCK', values: ['MERCHANT0000009'] },
    ];
    const put = await api.call('PUT', path, { body: { controls: own } });
    t.equal(put.status, 200);
    const mine = [
      { id: 'eu-only', mode: 'ENFORCED', type: 'COUNTRY_ALLOW', values: ['POL', 'DEU'], source: 'CARD' },
      { id: 'atm-day', mode: 'SHADOW', type: 'VELOCITY', window: 'DAY', count: 3, scope: 'CASH', source: 'CARD' },
      { id: 'per-tx', mode: 'ENFORCED', type: 'VELOCITY', window: 'TRANSACTION', amount: 5_000, scope: 'ALL', source: 'CARD' },
      { id: 'shop-x', mode: 'ENFORCED', type: 'MERCHANT_BLOCK', values: ['MERCHANT0000009'], source: 'CARD' },
    ];
    t.same(put.json, { controls: [...mine, ...program] }, 'the card\'s own first, then the program\'s');
    t.same((await api.get(path)).json, put.json, 'the GET answers the same');

    // Promotion from SHADOW to ENFORCED is one PUT; what the GET answered (the card's part) can be sent back.
    const promoted = mine.map((c) => (c.id === 'atm-day' ? { ...c, mode: 'ENFORCED' } : c));
    const again = await api.call('PUT', path, { body: { controls: promoted } });
    t.equal(again.status, 200);
    t.match(again.json.controls[1], { id: 'atm-day', mode: 'ENFORCED', source: 'CARD' });

    const bad: [string, unknown, RegExp][] = [
      ['ids unique', { controls: [own[0], { ...own[0] }] }, /id "eu-only" appears twice/],
      ['an MCC range upside down', { controls: [{ id: 'm', type: 'MCC_ALLOW', values: ['5814-5811'] }] }, /controls\[0\]\.values\[0\]: "5814-5811" is not a merchant category code/],
      ['an MCC of three digits', { controls: [{ id: 'm', type: 'MCC_BLOCK', values: ['541'] }] }, /"541" is not a merchant category code/],
      ['an alpha-2 country', { controls: [{ id: 'c', type: 'COUNTRY_BLOCK', values: ['PL'] }] }, /"PL" is not an ISO 3166-1 alpha-3 country code/],
      ['a country that does not exist', { controls: [{ id: 'c', type: 'COUNTRY_BLOCK', values: ['XXX'] }] }, /"XXX" is not an ISO 3166-1 alpha-3/],
      ['an empty list', { controls: [{ id: 'c', type: 'MERCHANT_BLOCK', values: [] }] }, /values must be a non-empty array/],
      ['a velocity without limits', { controls: [{ id: 'v', type: 'VELOCITY', window: 'DAY' }] }, /sets amount, count or both/],
      ['a count per transaction', { controls: [{ id: 'v', type: 'VELOCITY', window: 'TRANSACTION', count: 1 }] }, /count has no meaning there/],
      ['values on a velocity', { controls: [{ id: 'v', type: 'VELOCITY', window: 'DAY', amount: 1, values: ['x'] }] }, /values is not a field of a VELOCITY control/],
      ['a program control sent back', { controls: [program[0]] }, /source "PROGRAM": only the card's own controls/],
      ['an unknown type', { controls: [{ id: 'x', type: 'HOUR_BLOCK', values: ['1'] }] }, /type must be one of/],
      ['an unknown window', { controls: [{ id: 'x', type: 'VELOCITY', window: 'YEAR', amount: 1 }] }, /window must be one of/],
      ['a negative amount', { controls: [{ id: 'x', type: 'VELOCITY', window: 'DAY', amount: -1 }] }, /amount/],
      ['an id with a space', { controls: [{ id: 'a b', type: 'MCC_BLOCK', values: ['5411'] }] }, /id/],
      ['no list', { controls: 'none' }, /controls/],
      ['no body field', {}, /controls/],
      ['too many', { controls: Array.from({ length: 51 }, (_, i) => ({ id: 'c' + i, type: 'MCC_BLOCK', values: ['5411'] })) }, /at most 50/],
    ];
    for (const [what, body, detail] of bad) {
      const r = await api.call('PUT', path, { body });
      t.equal(r.status, 400, `${what}: 400`);
      t.equal(r.json?.title, 'VALIDATION_ERROR', `${what}: VALIDATION_ERROR`);
      t.match(r.json?.detail, detail, `${what}: the detail says what is wrong`);
    }
    t.same((await api.get(path)).json, again.json, 'a refused PUT changes nothing');

    t.equal((await api.get(`/secure/customers/${customerId}/cards/nope/controls`)).status, 404);
    t.equal((await api.call('PUT', `/secure/customers/${customerId}/cards/nope/controls`, { body: { controls: [] } })).status, 404);
    const other = await walletWithBalance(api);
    t.equal((await api.get(`/secure/customers/${other.customerId}/cards/${card.id}/controls`)).status, 404, 'another customer\'s card is unknown');

    const cleared = await api.call('PUT', path, { body: { controls: [] } });
    t.same(cleared.json, { controls: program }, 'an empty list removes the card\'s own');
    t.same((await api.get(path)).json, { controls: program });
  });
}

t.test('PROGRAMS_FILE controls: normalized, and a bad one stops the start with one line naming it', async (t) => {
  const p = normalizeProgram({ ...DEMO, controls: [{ id: 'b', type: 'MCC_BLOCK', values: ['7995'] }] }, 'test');
  t.same(p.controls, [{ id: 'b', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995'] }]);
  t.same(normalizeProgram(DEMO, 'test').controls, [], 'none by default');
  const dir = mkdtempSync(join(tmpdir(), 'controls-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'programs.json');
  writeFileSync(file, JSON.stringify([{ ...DEMO, controls: [{ id: 'v', type: 'VELOCITY', window: 'WEEK', amount: 100, scope: 'ATM' }] }]));
  t.throws(() => loadPrograms(file), { code: 'SW_ERR_PROGRAM_CONFIG', message: `PROGRAMS_FILE ${file} [0]: controls[0].scope must be PURCHASE, CASH or ALL` });
  writeFileSync(file, JSON.stringify([{ ...DEMO, controls: { id: 'v' } }]));
  t.throws(() => loadPrograms(file), { message: /\[0\]: controls must be an array of controls$/ });
  writeFileSync(file, JSON.stringify([{ ...DEMO, controls: [{ id: 'x', type: 'MCC_BLOCK', values: ['7995'], source: 'PROGRAM' }] }]));
  t.throws(() => loadPrograms(file), { message: /controls\[0\]\.source is not accepted here/ });
});

t.test('what the deciding code reads from a control: MCC ranges, and the ledger counter of a VELOCITY control', async (t) => {
  t.same(mccRange('5411'), [5411, 5411]);
  t.same(mccRange('5811-5814'), [5811, 5814]);
  t.equal(mccRange('5814-5811'), null);
  const nowMs = Date.UTC(2026, 11, 7, 10);
  const week: SpendControl = { id: 'atm-week', mode: 'SHADOW', type: 'VELOCITY', window: 'WEEK', amount: 50_000, count: 5, scope: 'CASH' };
  t.same(velocityCounterOf(week, 'CARD', nowMs), {
    controlId: 'card:atm-week', window: 'WEEK', period: '2026W50', scope: 'CASH', amountMinor: 50_000, count: 5, enforced: false,
  });
  t.match(velocityCounterOf({ ...week, mode: 'ENFORCED', window: 'LIFETIME' }, 'PROGRAM', nowMs), { controlId: 'program:atm-week', period: 'L', enforced: true });
  t.equal(velocityCounterOf({ ...week, window: 'TRANSACTION', count: null }, 'CARD', nowMs), null, 'a per-transaction limit is no counter');
  t.equal(velocityCounterOf({ id: 'm', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995'] }, 'CARD', nowMs), null);
});

t.test('setControls counts the record\'s version up: a card remembered by a deciding thread is read again', async (t) => {
  const r = await startTestRedis(t);
  const cards = CardStore.fromSecrets(r.client, derive(randomBytes(32), 'env'));
  const customers = new CustomerStore(r.client, cards);
  const c = await customers.create({ kyc: 'SUCCESS' });
  const ledger = await Ledger.open(r.client);
  const ub = (await ledger.createUserBalance({ customerId: c.id, currency: 'EUR', configId: DEMO.configId })).id;
  await ledger.post({ type: 'TOPUP', idempotencyKey: 'top', txId: 'top', balanceId: ub, amountMinor: 10_000, partnerId: null });
  const issued = await cards.issue({ customerId: c.id, balanceId: ub, currency: 'EUR', kind: 'VIRTUAL', program: { ...DEMO, panLength: 16, cardValidityMonths: 36 } });
  t.same((await cards.findByPan(issued.pan))!.controls, [], 'no controls of its own');
  const seen = cards.seen(issued.pan)!;
  const hold = (id: string) => ledger.hold({
    idempotencyKey: null, txId: id, balanceId: ub, depositId: null, amountMinor: 100, expiresAtMs: Date.now() + 86_400_000,
    guard: { ...seen.guard, absentKey: null },
  });
  t.match(await hold('h1'), { approved: true }, 'decided with the remembered card');
  const controls: SpendControl[] = [{ id: 'no-bars', mode: 'SHADOW', type: 'MCC_BLOCK', values: ['5813'] }];
  await cards.setControls(issued.card.id, controls);
  await t.rejects(hold('h2'), PreconditionFailedError, 'the remembered card no longer guards a hold: its version moved');
  t.same((await cards.findByPan(issued.pan))!.controls, controls, 'read again, with its controls');
  t.same((await cards.get(issued.card.id))!.controls, controls);
  await t.rejects(cards.setControls('nope', controls), { code: 'CARD_NOT_FOUND' });
  await t.rejects(cards.setControls(issued.card.id, [{ id: 'x', mode: 'ENFORCED', type: 'COUNTRY_BLOCK', values: ['ZZZ'] }]), { code: 'CARD_INVALID_ARGUMENT' });
  t.equal(await r.client.exists('card:id:nope'), 0, 'no record created for an unknown card');
  // A stored value that no longer validates fails closed: one enforced control blocking every category.
  const key = seen.guard.hashKey;
  await r.client.hset(key, 'ct', '[{"id":"x","type":"NOPE"}]');
  t.match((await cards.findByPan(issued.pan))!.controls, [{ mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['0000-9999'] }]);
  t.ok(parseControls([], 'controls').ok, 'an empty list is valid');
});

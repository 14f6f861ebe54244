// Card and cardholder authentication over the wire, in both dialects: a processor peer (the npm
// package iso_8583) sends e-commerce payments with CVV2, swipes with track 2, ATM withdrawals with
// a PIN block under its ZPK and chip reads with an ARQC, built from a KEYS_FILE it shares with the
// switch (simulators/lib/card-data.ts). For each rule: the right datum approves and moves money,
// a wrong one declines with the table's code and moves nothing, a missing required one declines
// under STRICT and passes under RELAXED (the demo program); the PIN and CVV2 counts lock the card
// exactly (also under concurrency) and unlock clears them; a replayed ATC declines; the ARPC in
// field 55 tag 91 is checked with an implementation of its own written here.
import t, { type Test } from 'tap';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { balance, msg, newCard, send, startWorld, type Card, type DialectName, type IsoJson, type World } from './helpers/e2e.js';
import { IsoClient } from './helpers/iso-client.js';
import { CardDataBuilder, type CardRef } from '../cardauth/card-data.js';
import { parseTlv } from '../cardauth/tlv.js';
import type { KeySet } from '../cardauth/keys.js';
import { TransactionRecords } from '../stores/records.js';
import { StoreKeys } from '../ledger/keys.js';

const STRICT = '0000000030';
const DEMO = '0019167984';
const ACQ = '123456';
const key = (): string => randomBytes(16).toString('hex').toUpperCase();
const KEYS: KeySet = {
  [STRICT]: { cvk: key(), pvk: key(), pvki: '1', imkAc: key(), zpk: { [ACQ]: key() } },
  [DEMO]: { cvk: key(), pvk: key(), pvki: '2', imkAc: key(), zpk: { [ACQ]: key() } },
};
const cd = new CardDataBuilder(KEYS);

const CODES = {
  '1987': { ok: '00', sv: '63', pin: '55', pinRequired: '55', tries: '75', fraud: '59', format: '30', funds: '51', notFound: '14' },
  '2003': { ok: '0000', sv: '1022', pin: '1017', pinRequired: '1012', tries: '1006', fraud: '1002', format: '9104', funds: '1016', notFound: '1011' },
} as const;

function ref(c: Card, configId = STRICT): CardRef {
  return { configId, pan: c.pan, expiry: c.expiry };
}

/** Our own ARPC method 1, from the IMK: option A, common session key, 3DES with a 24-byte key (not cardauth/). */
function independentArpc(imkHex: string, pan: string, psn: string, atc: Buffer, arqc: Buffer, arc: string): Buffer {
  const ede = (k16: Buffer, block: Buffer): Buffer => {
    const c = createCipheriv('des-ede3', Buffer.concat([k16, k16.subarray(0, 8)]), null);
    c.setAutoPadding(false);
    return Buffer.concat([c.update(block), c.final()]);
  };
  const imk = Buffer.from(imkHex, 'hex');
  const y = Buffer.from((pan + psn).slice(-16).padStart(16, '0'), 'hex');
  const mk = Buffer.concat([ede(imk, y), ede(imk, Buffer.from(y.map((b) => b ^ 0xff)))]);
  const r = (b2: number): Buffer => Buffer.from([atc[0]!, atc[1]!, b2, 0, 0, 0, 0, 0]);
  const sk = Buffer.concat([ede(mk, r(0xf0)), ede(mk, r(0x0f))]);
  const x = Buffer.from(arqc);
  x[0] = x[0]! ^ arc.charCodeAt(0);
  x[1] = x[1]! ^ arc.charCodeAt(1);
  return ede(sk, x);
}

/** Tag 91 of an answer's field 55: ARPC (8 bytes) and ARC (2 ASCII characters); null without field 55. */
function tag91(res: IsoJson): { arpc: Buffer; arc: string } | null {
  const f55 = res['55'];
  if (f55 === undefined) return null;
  const r = parseTlv(Buffer.from(f55, 'hex'));
  const v = r.ok ? r.tags.get('91') : undefined;
  if (v === undefined || v.length !== 10) throw new Error('field 55 without a 10-byte tag 91');
  return { arpc: v.subarray(0, 8), arc: v.subarray(8).toString('latin1') };
}

/** The ARQC and ATC a request's field 55 carries. */
function arqcOf(req: IsoJson): { arqc: Buffer; atc: Buffer } {
  const r = parseTlv(Buffer.from(req['55'] ?? '', 'hex'));
  if (!r.ok) throw new Error('request field 55');
  return { arqc: r.tags.get('9F26')!, atc: r.tags.get('9F36')! };
}

function without(m: IsoJson, ...fields: string[]): IsoJson {
  const out = { ...m };
  for (const f of fields) delete out[f];
  return out;
}

async function recordsOf(w: World, c: Card): Promise<Array<{ reason: string; reasonDetail?: string; threeDSecure?: boolean; mti: string }>> {
  await new Promise((r) => setTimeout(r, 150)); // records are written just after the answers
  return (await new TransactionRecords(w.s.redis.client, w.ledger).list({ cardId: c.cardId, limit: 100 })).items;
}

async function lockOf(w: World, c: Card): Promise<number> {
  return (await w.cards.get(c.cardId))?.lock ?? -1;
}

let stan = 0;
const next = (): string => String(++stan % 1_000_000).padStart(6, '0');

function ecom(c: Card, amount: number, over: Record<string, string | undefined> = {}, configId = STRICT): IsoJson {
  return msg('0100', c, next(), '00', amount, { ...cd.ecommerce(ref(c, configId)), 32: ACQ, ...over });
}

function swipe(c: Card, amount: number, over: Record<string, string | undefined> = {}, o: { pin?: string; cvv?: string; trackExpiry?: string } = {}): IsoJson {
  return msg('0100', c, next(), '00', amount, { ...cd.swipe(ref(c), { acquirer: ACQ, ...o }), 32: ACQ, ...over });
}

function atm(c: Card, amount: number, pin: string | undefined): IsoJson {
  const f = cd.swipe(ref(c), { acquirer: ACQ, ...(pin === undefined ? {} : { pin }) });
  return msg('0200', c, next(), '01', amount, { 22: f[22], 35: f[35], ...(f[52] === undefined ? {} : { 52: f[52] }), 18: '6011', 32: ACQ });
}

function chip(c: Card, amount: number, atc: number, over: Record<string, string | undefined> = {}, arqc?: string): IsoJson {
  const f = cd.chipRead(ref(c), { atc, amountMinor: amount, currencyN3: '978' }, { acquirer: ACQ, ...(arqc === undefined ? {} : { arqc }) });
  return msg('0100', c, next(), '00', amount, { ...f, 32: ACQ, ...over });
}

async function setPin(w: World, c: Card, pin: string): Promise<void> {
  const { pvki, pvv } = cd.pvv(ref(c), pin);
  await w.cards.setPvv(c.cardId, pvki, pvv);
}

async function worldOf(t: Test, dialect: DialectName): Promise<World> {
  const dir = mkdtempSync(join(tmpdir(), 'antaca-keys-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const keysFile = join(dir, 'keys.json');
  writeFileSync(keysFile, JSON.stringify(KEYS));
  return startWorld(t, dialect, { KEYS_FILE: keysFile });
}

for (const dialect of ['1987', '2003'] as const) {
  const C = CODES[dialect];
  t.test(`card authentication over the wire (${dialect})`, async (t) => {
    const w = await worldOf(t, dialect);
    let n = 0;
    const card = (o: Parameters<typeof newCard>[2] = {}): Promise<Card> => newCard(w, ++n, { program: 'STRICT', ...o });

    await t.test('CVV2: right approves, wrong or missing declines 63 and moves nothing; credential on file needs none', async (t) => {
      const c = await card();
      t.equal((await send(w, ecom(c, 1_000))).res['39'], C.ok, 'the right CVV2: approved');
      t.same(await balance(w, c), [9_000, 1_000], 'held');
      t.equal((await send(w, ecom(c, 1_000, { 48: '9203' + String((Number(cd.cvv2(ref(c))) + 1) % 1000).padStart(3, '0') }))).res['39'], C.sv, 'a wrong CVV2: 63');
      t.equal((await send(w, ecom(c, 1_000, { 48: undefined }))).res['39'], C.sv, 'no CVV2 on a card-not-present payment: 63');
      t.same(await balance(w, c), [9_000, 1_000], 'nothing moved');
      t.equal((await send(w, msg('0100', c, next(), '00', 500, { ...cd.ecommerce(ref(c), { credentialOnFile: true }), 32: ACQ }))).res['39'], C.ok, 'a stored credential (48.10 = 1): approved without CVV2');
      const recs = await recordsOf(w, c);
      t.ok(recs.some((r) => r.reason === 'SECURITY_VIOLATION' && r.reasonDetail === 'CVV2'), 'the record names what failed: CVV2');
      t.ok(recs.some((r) => r.reasonDetail === 'CVV2_MISSING'), 'and what was missing');
    });

    await t.test('five wrong CVV2s in a row lock the card 7; a correct one resets the count; unlock clears it', async (t) => {
      const c = await card();
      const wrong = '9203' + String((Number(cd.cvv2(ref(c))) + 7) % 1000).padStart(3, '0');
      for (let i = 0; i < 4; i++) t.equal((await send(w, ecom(c, 100, { 48: wrong }))).res['39'], C.sv, `wrong CVV2 ${i + 1}: 63`);
      t.equal((await send(w, ecom(c, 100))).res['39'], C.ok, 'a correct one: approved, the count starts again');
      for (let i = 0; i < 4; i++) t.equal((await send(w, ecom(c, 100, { 48: wrong }))).res['39'], C.sv, `wrong again ${i + 1}: 63`);
      t.equal(await lockOf(w, c), 0, 'four in a row do not lock');
      t.equal((await send(w, ecom(c, 100, { 48: wrong }))).res['39'], C.sv, 'the fifth in a row: 63 like the others');
      t.equal(await lockOf(w, c), 7, 'and the card is locked 7 (suspected fraud)');
      t.equal((await send(w, ecom(c, 100))).res['39'], C.fraud, 'every later message finds lock 7: 59');
      t.same(await balance(w, c), [9_900, 100], 'only the one approval moved money');
      await w.cards.unlock(c.cardId);
      t.equal((await send(w, ecom(c, 100, { 48: wrong }))).res['39'], C.sv, 'after unlock the count starts at zero');
      t.equal(await lockOf(w, c), 0, 'one wrong CVV2 does not lock again');
      t.equal((await send(w, ecom(c, 100))).res['39'], C.ok, 'the right CVV2 approves');
    });

    await t.test('RELAXED (demo program): nothing more required, what is present still verified', async (t) => {
      const c = await newCard(w, ++n, { program: 'DEMO' });
      t.equal((await send(w, ecom(c, 500, { 48: undefined }, DEMO))).res['39'], C.ok, 'no CVV2: approved');
      t.equal((await send(w, ecom(c, 500, { 48: '9203' + String((Number(cd.cvv2(ref(c, DEMO))) + 1) % 1000).padStart(3, '0') }, DEMO))).res['39'], C.sv, 'a wrong one: 63');
      t.equal((await send(w, msg('0100', c, next(), '00', 500, { 32: ACQ }))).res['39'], C.ok, 'a virtual card with a chip entry and no card data: approved');
      t.equal((await send(w, msg('0200', c, next(), '01', 500, { 32: ACQ }))).res['39'], C.ok, 'cash without a PIN block: approved');
      t.equal((await send(w, msg('0100', c, next(), '00', 500, { 14: undefined, 32: ACQ }))).res['39'], C.ok, 'no expiry: approved');
      t.equal((await send(w, ecom(c, 500, { 48: '9203' + cd.cvv2(ref(c, DEMO)) + '4304ABCD' }, DEMO))).res['39'], C.ok, 'with a 3-D Secure value');
      const recs = await recordsOf(w, c);
      t.ok(recs.some((r) => r.threeDSecure === true), 'the record says 3-D Secure was present (not the value)');
      t.same(await balance(w, c), [7_500, 2_000], 'four holds and one posting of 500');
    });

    await t.test('swipe: track 2 verified and agreeing with fields 2 and 14; field 2 may be absent', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      const other = await card({ kind: 'PHYSICAL' });
      t.equal((await send(w, swipe(c, 1_000))).res['39'], C.ok, 'a valid track: approved');
      const bare = without(swipe(c, 1_000), '2', '14');
      const first = await send(w, bare);
      t.equal(first.res['39'], C.ok, 'the PAN and expiry only in the track: approved');
      t.equal(first.res['2'], undefined, 'field 2 not echoed (not sent)');
      t.equal(first.res['35'], undefined, 'track 2 never echoed');
      t.same((await send(w, bare)).raw, first.raw, 'its repeat: the first answer byte for byte');
      t.same(await balance(w, c), [8_000, 2_000], 'two holds, the repeat held nothing');
      const wrongCvv = String((Number(cd.track2(ref(c)).slice(-3)) + 1) % 1000).padStart(3, '0');
      t.equal((await send(w, swipe(c, 1_000, {}, { cvv: wrongCvv }))).res['39'], C.sv, 'a wrong CVV on the stripe: 63');
      t.equal((await send(w, swipe(c, 1_000, {}, { trackExpiry: '2911' }))).res['39'], C.sv, 'a track with another expiry than field 14: 63');
      t.equal((await send(w, swipe(c, 1_000, { 35: cd.track2(ref(other)) }))).res['39'], C.sv, 'another card\'s track under this PAN: 63');
      t.equal((await send(w, swipe(c, 1_000, { 35: undefined }))).res['39'], C.sv, 'a swipe without its track (STRICT): 63');
      t.equal((await send(w, swipe(c, 1_000, { 14: '2911' }))).res['39'], '54'.length === C.ok.length ? '54' : '1001', 'field 14 not the card\'s: 54 (expiry comes first)');
      t.same(await balance(w, c), [8_000, 2_000], 'no decline moved money');
      const v = await card();
      t.equal((await send(w, msg('0100', v, next(), '00', 100, { 22: '901', 35: cd.track2(ref(v)), 32: ACQ }))).res['39'], C.sv, 'a swipe of a virtual card: 63');
      t.equal((await send(w, without(swipe(c, 100, { 35: '5557703000000099=30122010000000000' }), '2'))).res['39'], C.notFound, 'a track of no card: 14');
      const recs = await recordsOf(w, c);
      for (const d of ['CVV', 'TRACK', 'TRACK_MISSING']) t.ok(recs.some((r) => r.reasonDetail === d), `a record names ${d}`);
    });

    await t.test('malformed card data: 30 naming the field, nothing moved', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      for (const [what, over] of [['track 2', { 35: '5557703=1' }], ['field 48', { 48: '920' }], ['field 55', { 55: '9F2608AA' }], ['field 48 CVV2', { 48: '9203ABC' }]] as const) {
        t.equal((await send(w, swipe(c, 100, over))).res['39'], C.format, `${what}: ${C.format}`);
      }
      t.equal((await send(w, without(swipe(c, 100, { 35: '5557703X' }), '2'))).res['39'], C.format, 'field 2 absent and a track without a PAN: 30');
      t.same(await balance(w, c), [10_000, 0]);
    });

    await t.test('PIN: format 0 under the acquirer\'s ZPK against the PVV; three wrong lock 6; unlock clears', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      t.equal((await send(w, atm(c, 1_000, '1234'))).res['39'], C.pin, 'no PIN set yet: 55');
      await setPin(w, c, '1234');
      t.equal((await send(w, atm(c, 2_000, '1234'))).res['39'], C.ok, 'the right PIN: cash paid');
      t.same(await balance(w, c), [8_000, 0], 'posted');
      t.equal((await send(w, atm(c, 1_000, undefined))).res['39'], C.pinRequired, `cash without a PIN block (STRICT): ${C.pinRequired}`);
      t.equal((await send(w, atm(c, 1_000, '9999'))).res['39'], C.pin, 'wrong 1: 55');
      t.equal((await send(w, atm(c, 1_000, '9999'))).res['39'], C.pin, 'wrong 2: 55');
      t.equal((await send(w, atm(c, 1_000, '1234'))).res['39'], C.ok, 'right: approved, the count starts again');
      t.equal((await send(w, atm(c, 1_000, '0000'))).res['39'], C.pin, 'wrong 1 again: 55');
      t.equal((await send(w, atm(c, 1_000, '0000'))).res['39'], C.pin, 'wrong 2: 55');
      t.equal((await send(w, atm(c, 1_000, '0000'))).res['39'], C.tries, 'the third in a row: 75 (PIN tries exceeded)');
      t.equal(await lockOf(w, c), 6, 'locked 6');
      t.equal((await send(w, atm(c, 1_000, '1234'))).res['39'], C.tries, 'even the right PIN now: 75');
      t.same(await balance(w, c), [7_000, 0], 'only the two approvals paid out');
      await w.cards.unlock(c.cardId);
      t.equal((await send(w, atm(c, 1_000, '1234'))).res['39'], C.ok, 'unlocked: approved');
      const pos = msg('0100', c, next(), '00', 500, { ...cd.swipe(ref(c), { acquirer: ACQ, pin: '1234' }), 32: ACQ });
      t.equal((await send(w, pos)).res['39'], C.ok, 'a PIN on a purchase is verified too');
      t.equal((await send(w, msg('0100', c, next(), '00', 500, { ...cd.swipe(ref(c), { acquirer: ACQ, pin: '4321' }), 32: ACQ }))).res['39'], C.pin, 'and a wrong one declines');
      t.equal((await send(w, msg('0100', c, next(), '00', 500, { ...cd.swipe(ref(c), { acquirer: ACQ, pin: '1234' }), 32: '999999' }))).res['39'], C.sv, 'a PIN block from an acquirer without a ZPK: 63');
    });

    await t.test('ten concurrent wrong PINs on one card lock it once, with the right codes', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      await setPin(w, c, '2468');
      const clients = await Promise.all(Array.from({ length: 10 }, () => IsoClient.connect(w.s.app.isoPort, dialect === '2003' ? { 39: { ContentType: 'n', Label: 'Response code', LenType: 'fixed', MaxLen: 4 } } : undefined)));
      t.teardown(() => clients.forEach((x) => x.close()));
      const answers = await Promise.all(clients.map((x) => x.request(atm(c, 1_000, '1111'))));
      const codes = answers.map((a) => a['39']).sort();
      t.equal(codes.filter((x) => x === C.pin).length, 2, 'two answered 55');
      t.equal(codes.filter((x) => x === C.tries).length, 8, 'eight answered 75: the third locked the card, the rest found it locked');
      t.equal(await lockOf(w, c), 6, 'locked 6');
      t.same(await balance(w, c), [10_000, 0], 'nothing paid out');
      const recs = await recordsOf(w, c);
      t.equal(recs.filter((r) => r.reason === 'CARD_LOCK_6_PIN_TRIES_EXCEEDED').length, 8);
    });

    await t.test('chip: ARQC verified, ARPC in field 55 tag 91, replayed ATC declined', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      const imk = KEYS[STRICT]!.imkAc;
      const first = chip(c, 1_000, 5);
      const a = await send(w, first);
      t.equal(a.res['39'], C.ok, 'a valid ARQC: approved');
      const t91 = tag91(a.res);
      const { arqc, atc } = arqcOf(first);
      t.equal(t91?.arc, C.ok.slice(0, 2), 'ARC: the ASCII of field 39\'s first two characters');
      t.same(t91?.arpc, independentArpc(imk, c.pan, '01', atc, arqc, C.ok.slice(0, 2)), 'the ARPC verifies with an independent computation');
      t.equal(a.res['35'], undefined, 'track 2 not echoed');
      t.same((await send(w, first)).raw, a.raw, 'a repeat: the first answer byte for byte, field 55 included');
      const s2 = next();
      const replay = { ...first, 11: s2, 37: 'RRN' + s2 + '000' };
      const r = await send(w, replay);
      t.equal(r.res['39'], C.sv, 'the same cryptogram again (its ATC consumed): 63');
      t.same(tag91(r.res)?.arpc, independentArpc(imk, c.pan, '01', atc, arqc, C.sv.slice(0, 2)), 'still with an ARPC, of the decline');
      t.equal((await send(w, chip(c, 1_000, 4))).res['39'], C.sv, 'a lower ATC: 63');
      const sixth = chip(c, 1_000, 6);
      const six = await send(w, sixth);
      t.equal(six.res['39'], C.ok, 'the next ATC: approved');
      t.same((await send(w, sixth)).raw, six.raw, 'its repeat too: byte for byte, its ARPC made again');
      const forged = await send(w, chip(c, 1_000, 7, {}, '0102030405060708'));
      t.equal(forged.res['39'], C.sv, 'a wrong ARQC: 63');
      t.equal(forged.res['55'], undefined, 'and no ARPC');
      t.equal((await send(w, chip(c, 1_000, 8, { 55: undefined }))).res['39'], C.sv, 'a chip read without field 55 (STRICT): 63');
      t.equal((await send(w, chip(c, 1_000, 9, { 35: cd.track2(ref(c)) }))).res['39'], C.sv, 'a track-2 equivalent with the stripe\'s CVV, not the iCVV: 63');
      const poor = await send(w, chip(c, 50_000, 10));
      t.equal(poor.res['39'], C.funds, 'a valid ARQC, short of money: 51');
      t.equal(tag91(poor.res)?.arc, C.funds.slice(0, 2), 'with the ARPC of the decline');
      t.equal((await send(w, chip(c, 1_000, 10))).res['39'], C.sv, 'the ATC is consumed even so (the card counted it)');
      t.same(await balance(w, c), [8_000, 2_000], 'two approvals held, nothing else moved');
      const recs = await recordsOf(w, c);
      for (const d of ['ATC', 'ARQC', 'ARQC_MISSING', 'iCVV']) t.ok(recs.some((x) => x.reasonDetail === d), `a record names ${d}`);
      const v = await card();
      t.equal((await send(w, chip(v, 100, 1))).res['39'], C.sv, 'a chip read of a virtual card (STRICT): 63');
    });

    await t.test('a chip approval on a card the switch remembers: its ATC consumed by the hold itself, one script call', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      const recordKey = StoreKeys.cardRecord(w.cards.panIndex(c.pan));
      const redis = w.s.redis.client;
      const monitor = await redis.monitor();
      t.teardown(() => monitor.disconnect());
      // The keys each script call of the card's (its record or its balance) declared, up to a marker.
      let calls: string[][] = [];
      let marked: ((v: unknown) => void) | null = null;
      monitor.on('monitor', (_time: string, args: string[], source: string) => {
        const cmd = args[0]!.toLowerCase();
        if (cmd === 'echo' && marked !== null) marked(null);
        if (source === 'lua' || (cmd !== 'evalsha' && cmd !== 'eval')) return;
        const keys = args.slice(3, 3 + Number(args[2]));
        if (keys.some((k) => k === recordKey || k.includes(c.balanceId))) calls.push(keys);
      });
      // calls: every script call of the card's; ownAtc: those of the card store's own ATC script (the record its one key).
      const scriptCalls = async (m: IsoJson): Promise<{ code: string | undefined; calls: number; ownAtc: number }> => {
        calls = [];
        const r = await send(w, m);
        await new Promise((resolve) => { marked = resolve; void redis.echo('marker'); });
        return { code: r.res['39'], calls: calls.length, ownAtc: calls.filter((k) => k.length === 1 && k[0] === recordKey).length };
      };
      const first = await scriptCalls(chip(c, 1_000, 1));
      t.equal(first.code, C.ok, 'the first chip read: approved');
      t.equal(first.ownAtc, 1, 'read fresh: the ATC consumed in a call of its own');
      const second = chip(c, 1_000, 2);
      const two = await scriptCalls(second);
      t.equal(two.code, C.ok, 'the next chip read: approved');
      t.equal(two.calls, 1, 'one script call: the hold consumed the ATC and wrote the record');
      t.equal(two.ownAtc, 0, 'no call of its own for the ATC');
      const [ac, am] = await redis.hmget(recordKey, 'ac', 'am');
      t.equal(ac, '2', 'the ATC consumed is the card\'s highest');
      t.ok(am?.startsWith(c.cardId + '.'), 'by this card\'s transaction');
      const s2 = next();
      t.equal((await scriptCalls({ ...second, 11: s2, 37: 'RRN' + s2 + '000' })).code, C.sv, 'its cryptogram again: 63');
      const poor = await scriptCalls(chip(c, 50_000, 3));
      t.equal(poor.code, C.funds, 'a valid ARQC, short of money: 51');
      t.equal(poor.ownAtc, 0, 'its ATC consumed by the hold too (the decline\'s record is written after, as any decline\'s)');
      t.equal((await scriptCalls(chip(c, 1_000, 3))).code, C.sv, 'its ATC consumed all the same: 63');
      t.same(await balance(w, c), [8_000, 2_000], 'two approvals held, nothing else moved');
      const recs = await recordsOf(w, c);
      t.equal(recs.filter((x) => x.reasonDetail === 'ATC').length, 2, 'each replay recorded once, naming the ATC');
    });

    await t.test('STRICT needs an expiry on a debit; balance inquiries and credits', async (t) => {
      const c = await card({ kind: 'PHYSICAL' });
      t.equal((await send(w, msg('0100', c, next(), '00', 100, { 14: undefined, 22: '001', 32: ACQ }))).res['39'], dialect === '1987' ? '54' : '1001', 'no field 14 and no track: 54');
      t.equal((await send(w, msg('0200', c, next(), '20', 300, { 14: undefined, 22: '812', 32: ACQ }))).res['39'], C.ok, 'a refund needs no card data');
      t.equal((await send(w, msg('0100', c, next(), '30', 0, { ...cd.chipRead(ref(c), { atc: 1, amountMinor: 0, currencyN3: '978' }, { acquirer: ACQ }), 32: ACQ }))).res['39'], C.ok, 'a balance inquiry by chip');
      t.same(await balance(w, c), [10_300, 0]);
    });
  });
}

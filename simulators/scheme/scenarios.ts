// The scripted scenarios: each a short sequence of messages on its own fresh card(s), with the
// field 39 and balance effect the model expects at every step (docs/messages.md). They run
// concurrently, one link each in turn; within a scenario every message waits for the previous
// answer, as a processor does for one card.
import { frame } from '../../iso/frame.js';
import { originalDataElements, withPartialApproval } from '../lib/fields.js';
import { ACQUIRER, type Script } from './model.js';
import type { ModelCard } from './engine.js';
import { DEMO_CONFIG_ID } from '../lib/management-api.js';
import type { CardDataBuilder, CardRef } from '../../cardauth/card-data.js';

export interface ScenarioContext {
  x: Script;
  /** A fresh card provisioned through the management API, with `topUpMinor` available (a physical one activated). */
  card(label: string, topUpMinor?: number, kind?: 'virtual' | 'physical'): Promise<ModelCard>;
  /** Card data made with the card key file (cardauth/card-data.ts): the tool plays the card and the acquirer. */
  cardData(): CardDataBuilder;
  /** Set PIN through the management API (an encrypted request). */
  setPin(card: ModelCard, pin: string): Promise<void>;
  lock(card: ModelCard, reason: number): Promise<void>;
  unlock(card: ModelCard): Promise<void>;
  /** Replaces the card's own spend controls (`PUT …/cards/{id}/controls`, docs/cards.md "Spend controls"). */
  setControls(card: ModelCard, controls: readonly SpendControlInput[]): Promise<void>;
  /** The card's transaction record with this RRN (field 37) through `GET /secure/transactions`; null when none. */
  record(card: ModelCard, rrn: string): Promise<Record<string, unknown> | null>;
}

/** A spend control as the management API takes it. */
export interface SpendControlInput { id: string; mode: 'ENFORCED' | 'SHADOW'; type: string; values: readonly string[] }

export interface Scenario { name: string; about: string; run(c: ScenarioContext): Promise<void> }

const TOP_UP = 10_000;

export const SCENARIOS: readonly Scenario[] = [
  { name: 'purchase', about: '0100 held, then cleared by its 0220', async run({ x, card }) {
    const c = await card('purchase');
    const { orig } = await x.request(c, '0100', '00', 2_500);
    if (orig) await x.clear(orig, 2_500);
  } },
  { name: 'atm', about: 'ATM withdrawal: 0200 (posted) and 0100 (held)', async run({ x, card }) {
    const c = await card('atm');
    await x.request(c, '0200', '01', 4_000);
    await x.request(c, '0100', '01', 2_000);
  } },
  { name: 'cashback', about: 'purchase with cashback, 0200', async run({ x, card }) {
    await x.request(await card('cashback'), '0200', '09', 3_000);
  } },
  { name: 'refund', about: '0100 refund then its 0220 clearing; an 0200 refund posted at once', async run({ x, card }) {
    const c = await card('refund');
    const { orig } = await x.request(c, '0100', '20', 1_500);
    if (orig) await x.clear(orig, 1_500);
    await x.request(c, '0200', '20', 1_000);
  } },
  { name: 'payment', about: 'payment credit (28), 0200 and 0100, posted at once', async run({ x, card }) {
    const c = await card('payment');
    await x.request(c, '0200', '28', 5_000);
    await x.request(c, '0100', '28', 700);
  } },
  { name: 'inquiry', about: 'balance inquiry after a purchase: field 54 is the model\'s balance', async run({ x, card }) {
    const c = await card('inquiry');
    await x.request(c, '0100', '00', 1_234);
    await x.request(c, '0100', '30', 0);
    await x.request(c, '0200', '30', 0);
  } },
  { name: 'verification', about: 'account verification: a zero-amount 0100 purchase, 85, nothing held', async run({ x, card }) {
    await x.request(await card('verification'), '0100', '00', 0);
  } },
  { name: 'reversal', about: 'full and partial 0400 of an 0100 and of an 0200: money moves back', async run({ x, card }) {
    const c = await card('reversal', 20_000);
    const a = await x.request(c, '0100', '00', 3_000);
    if (a.orig) await x.reverse(a.orig);
    const b = await x.request(c, '0100', '00', 3_000);
    if (b.orig) await x.reverse(b.orig, { finalMinor: 1_000 });
    const d = await x.request(c, '0200', '00', 3_000);
    if (d.orig) await x.reverse(d.orig);
    const e = await x.request(c, '0200', '00', 3_000);
    if (e.orig) { await x.reverse(e.orig, { finalMinor: 1_000 }); await x.reverse(e.orig); }
    const f = await x.request(c, '0200', '28', 2_000);
    if (f.orig) await x.reverse(f.orig, { finalMinor: 500 });
  } },
  { name: 'reversal-advice', about: '0420 reversal advice of an 0100 and of an 0200', async run({ x, card }) {
    const c = await card('reversal-advice');
    const a = await x.request(c, '0100', '00', 2_000);
    if (a.orig) await x.reverse(a.orig, { advice: true });
    const b = await x.request(c, '0200', '00', 2_000);
    if (b.orig) await x.reverse(b.orig, { advice: true });
  } },
  { name: 'clearing', about: 'clearing for less, for more, and for none (forced post)', async run({ x, card }) {
    const c = await card('clearing', 20_000);
    const less = await x.request(c, '0100', '00', 4_000);
    if (less.orig) await x.clear(less.orig, 3_000);
    const more = await x.request(c, '0100', '00', 4_000);
    if (more.orig) await x.clear(more.orig, 5_000);
    await x.forcedPost(c, 2_000);
  } },
  { name: 'advice', about: '0120 authorization advice: a forced hold, past the funds', async run({ x, card }) {
    const c = await card('advice', 1_000);
    await x.request(c, '0120', '00', 1_500);
  } },
  { name: 'repeats', about: '0101, 0201, 0221, 0401: the first answer byte for byte, money moved once', async run({ x, card }) {
    const c = await card('repeats', 20_000);
    const a = await x.request(c, '0100', '00', 1_000);
    await x.again(a.sent, '0101', '0101 repeats an answered 0100');
    const b = await x.request(c, '0200', '00', 1_000);
    await x.again(b.sent, '0201', '0201 repeats an answered 0200');
    if (a.orig) await x.again(await x.clear(a.orig, 1_000), '0221', '0221 repeats an answered 0220');
    const d = await x.request(c, '0100', '00', 1_000);
    if (d.orig) await x.again(await x.reverse(d.orig), '0401', '0401 repeats an answered 0400');
  } },
  { name: 'duplicates', about: 'the same 0100 and 0200 sent twice: the first answer, money moved once', async run({ x, card }) {
    const c = await card('duplicates');
    const a = await x.request(c, '0100', '00', 1_000);
    await x.again(a.sent, '0100', 'a duplicate 0100 (same MTI class, 2, 7, 11, 32, 41)');
    const b = await x.request(c, '0200', '00', 1_000);
    await x.again(b.sent, '0200', 'a duplicate 0200');
  } },
  { name: 'orphan', about: 'a reversal whose original is unknown (00), then the late original (05)', async run({ x, card }) {
    const c = await card('orphan');
    const stan = x.stan();
    const late = x.base('0100', c.pan, '00', 1_500, stan);
    const rev = x.base('0400', c.pan, '00', 1_500);
    rev.set(90, originalDataElements({ mti: '0100', stan, f7: String(late.get(7)), acquirer: ACQUIRER }));
    await x.send({ mti: '0400', fields: new Map([...rev].sort((p, q) => p[0] - q[0])) }, { mti: '0410', reason: 'APPROVED', why: 'a reversal of an unknown original is acknowledged and remembered', card: c });
    await x.send({ mti: '0100', fields: late }, { mti: '0110', reason: 'ALREADY_REVERSED', why: 'the original of a remembered reversal is declined and holds nothing', card: c });
  } },
  { name: 'insufficient', about: 'a purchase above the balance: 51', async run({ x, card }) {
    await x.request(await card('insufficient', 1_000), '0100', '00', 5_000);
  } },
  { name: 'locked', about: 'a card locked through the API (7, suspected fraud): 59; unlocked: 00', async run({ x, card, lock, unlock }) {
    const c = await card('locked');
    await lock(c, 7);
    await x.request(c, '0100', '00', 1_000);
    await unlock(c);
    await x.request(c, '0100', '00', 1_000);
  } },
  { name: 'unknown-card', about: 'a PAN no card has: 14', async run({ x }) {
    // The demo BIN with a wrong Luhn digit: no issued card can have it.
    const ghost: ModelCard = { pan: badLuhn('555770' + x.stan() + '123'), expiry: '3012', customerId: '', cardId: '', balanceId: '', label: 'unknown', availableMinor: 0, blockedMinor: 0, lock: 0 };
    await x.send({ mti: '0100', fields: x.base('0100', ghost.pan, '00', 1_000) }, { mti: '0110', reason: 'CARD_NOT_FOUND', why: 'no card has this PAN' });
  } },
  { name: 'malformed', about: 'a bad field (30) and an undecodable frame (dropped, the link stays up)', async run({ x, card }) {
    const c = await card('malformed');
    const bad = x.base('0100', c.pan, '00', 1_000);
    await x.send(badBody(x, bad), { mti: '0110', reason: 'FORMAT_ERROR', why: 'field 49 with a letter: MTI and STAN readable, so 30', card: c });
    await x.send(undecodable(c.pan), { mti: null, reason: 'FORMAT_ERROR', why: 'no STAN can be read: dropped' });
  } },
  { name: 'unknown-mti', about: 'MTI 0300: 0310 with 12', async run({ x, card }) {
    const c = await card('unknown-mti');
    await x.send({ mti: '0300', fields: x.base('0300', c.pan, '00', 1_000) }, { mti: '0310', reason: 'UNKNOWN_TRANSACTION_TYPE', why: 'an unknown MTI gets its response MTI with 12' });
  } },
  { name: 'echo', about: '0800 echo: 0810 00', async run({ x }) { await x.echo(); } },
  { name: 'partial', about: 'a purchase above the balance at a terminal that accepts partial approval (48.61): 10 for what is available, field 54 type 57 the amount asked; cash with 48.61, or a purchase without it: 51', async run({ x, card }) {
    const c = await card('partial', 3_000);
    await x.request(c, '0100', '00', 5_000);
    await x.request(c, '0100', '01', 5_000, { 48: withPartialApproval() });
    const p = await x.request(c, '0100', '00', 5_000, { 48: withPartialApproval() });
    if (p.orig) await x.clear(p.orig, p.orig.amountMinor);
  } },
  { name: 'increment', about: 'a hotel: 0100 100.00 (MCC 7011), an increment of 50.00 naming it (field 90; answered with its field 38), one clearing of 150.00', async run({ x, card }) {
    const c = await card('increment', 20_000);
    const { orig } = await x.request(c, '0100', '00', 10_000, { 18: '7011' });
    if (orig === null) return;
    await x.increment(orig, 5_000, { 18: '7011' });
    await x.clear(orig, 15_000);
  } },
  { name: 'completion', about: 'a fuel pump: 0100 100.00 (MCC 5542), an 0120 completion of 65.00 naming it (65.00 held, not 165.00), then its 0220 of 65.00', async run({ x, card }) {
    const c = await card('completion', 20_000);
    const { orig } = await x.request(c, '0100', '00', 10_000, { 18: '5542' });
    if (orig === null) return;
    await x.complete(orig, 6_500, { 18: '5542' });
    await x.clear(orig, 6_500);
  } },
  { name: 'controls', about: 'a card control MCC_BLOCK set through the API: 57; the same rule in SHADOW mode approves and the record shows wouldDecline; promoted: 57', async run({ x, card, setControls, record }) {
    const c = await card('controls');
    await setControls(c, [{ id: 'no-gambling', mode: 'ENFORCED', type: 'MCC_BLOCK', values: ['7995', '7800-7802'] }]);
    await x.refused(c, '0100', '00', 1_000, { 18: '7995' }, 'TRANSACTION_NOT_PERMITTED', 'a card control blocks MCC 7995: 57, nothing held');
    await x.request(c, '0100', '00', 1_000, { 18: '5411' });
    const watch: SpendControlInput = { id: 'watch-groceries', mode: 'SHADOW', type: 'MCC_BLOCK', values: ['5411'] };
    await setControls(c, [watch]);
    const shadow = await x.request(c, '0100', '00', 1_000, { 18: '5411' });
    const rrn = String(shadow.sent.req.fields.get(37));
    if (shadow.sent.answer !== null) {
      const got = (await record(c, rrn))?.wouldDecline as { controlId?: string; reason?: string } | null | undefined;
      if (got?.controlId !== watch.id || got.reason !== 'TRANSACTION_NOT_PERMITTED') {
        x.engine.fail('controls', `record of RRN ${rrn}`, `wouldDecline {controlId: ${watch.id}, reason: TRANSACTION_NOT_PERMITTED}`, `wouldDecline ${JSON.stringify(got ?? null)}`, 'a SHADOW control declines nothing and records what it would have declined');
      }
    }
    await setControls(c, [{ ...watch, mode: 'ENFORCED' }]);
    await x.refused(c, '0100', '00', 1_000, { 18: '5411' }, 'TRANSACTION_NOT_PERMITTED', 'the rule promoted to ENFORCED: the very next authorization obeys it');
  } },
  { name: 'cvv2', about: 'e-commerce with the card\'s CVV2 (00), then a wrong CVV2 (63 SECURITY_VIOLATION)', async run({ x, card, cardData }) {
    const c = await card('cvv2');
    const cd = cardData();
    await x.request(c, '0100', '00', 1_500, cd.ecommerce(refOf(c)));
    const wrong = String((Number(cd.cvv2(refOf(c))) + 1) % 1000).padStart(3, '0');
    await x.refused(c, '0100', '00', 1_500, cd.ecommerce(refOf(c), { cvv2: wrong }), 'SECURITY_VIOLATION', 'a CVV2 that is not the card\'s declines 63 and holds nothing');
  } },
  { name: 'swipe', about: 'a physical card swiped (track 2), also with the PAN only in the track; a track of another expiry: 63', async run({ x, card, cardData }) {
    const c = await card('swipe', TOP_UP, 'physical');
    const cd = cardData();
    await x.request(c, '0100', '00', 1_000, { ...cd.swipe(refOf(c), { acquirer: ACQUIRER }), 14: c.expiry });
    await x.request(c, '0100', '00', 1_000, { ...cd.swipe(refOf(c), { acquirer: ACQUIRER }), 2: '' });
    await x.refused(c, '0100', '00', 1_000, { ...cd.swipe(refOf(c), { acquirer: ACQUIRER, trackExpiry: otherExpiry(c.expiry) }), 14: c.expiry }, 'SECURITY_VIOLATION', 'a track whose expiry is not field 14\'s is not this card\'s track');
  } },
  { name: 'chip', about: 'a chip read with a valid ARQC (00, an ARPC in field 55); the same cryptogram again: replayed ATC, 63', async run({ x, card, cardData }) {
    const c = await card('chip', TOP_UP, 'physical');
    const f = cardData().chipRead(refOf(c), { atc: 1, amountMinor: 2_000, currencyN3: '978' }, { acquirer: ACQUIRER });
    await x.request(c, '0100', '00', 2_000, f);
    await x.refused(c, '0100', '00', 2_000, f, 'SECURITY_VIOLATION', 'a cryptogram whose ATC the card has used already is a replay');
  } },
  { name: 'pin', about: 'ATM with the PIN set through the API (00); three wrong PINs: 55, 55, then 75 and lock 6; unlocked: 00', async run({ x, card, cardData, setPin, unlock }) {
    const c = await card('pin', 20_000, 'physical');
    await setPin(c, '2468');
    const cd = cardData();
    const atm = (pin: string): Record<number, string> => ({ ...cd.swipe(refOf(c), { acquirer: ACQUIRER, pin }), 18: '6011' });
    await x.request(c, '0200', '01', 4_000, atm('2468'));
    await x.refused(c, '0200', '01', 2_000, atm('1111'), 'INCORRECT_PIN', 'a wrong PIN declines 55');
    await x.refused(c, '0200', '01', 2_000, atm('1111'), 'INCORRECT_PIN', 'a second wrong PIN in a row: 55');
    await x.refused(c, '0200', '01', 2_000, atm('1111'), 'CARD_LOCK_6_PIN_TRIES_EXCEEDED', 'the third wrong PIN in a row: 75, and the card is locked 6', () => { c.lock = 6; });
    await unlock(c);
    await x.request(c, '0200', '01', 2_000, atm('2468'));
  } },
];

/** What the card-data builder needs of a scheme card (all are the demo program's). */
function refOf(c: ModelCard): CardRef {
  return { configId: DEMO_CONFIG_ID, pan: c.pan, expiry: c.expiry };
}

/** Another valid YYMM than `yymm` (a month later). */
function otherExpiry(yymm: string): string {
  const m = Number(yymm.slice(2)) % 12 + 1;
  return yymm.slice(0, 2) + String(m).padStart(2, '0');
}

/** `digits` with a check digit that fails Luhn. */
function badLuhn(body: string): string {
  let sum = 0;
  for (let i = 0; i < body.length; i++) {
    let d = Number(body[body.length - 1 - i]);
    if (i % 2 === 0) { d *= 2; if (d > 9) d -= 9; }
    sum += d;
  }
  return body + String(((10 - (sum % 10)) % 10 + 1) % 10);
}

/** An 0100 whose field 49 (its last field) has a letter: the body does not decode past it. */
export function badBody(x: Script, fields: Map<number, string | Buffer>): { raw: Buffer; mti: string; stan: string; pan: string } {
  const body = x.engine.codec.pack({ mti: '0100', fields });
  body[body.length - 2] = 0x41;
  return { raw: frame(body), mti: '0100', stan: String(fields.get(11)), pan: String(fields.get(2)) };
}

/** An 0100 whose bitmap names field 2 but whose body ends inside it: no STAN can be read. */
export function undecodable(pan: string): { raw: Buffer; mti: string; stan: string; pan: string } {
  const body = Buffer.concat([Buffer.from('0100', 'latin1'), Buffer.from([0xc0, 0, 0, 0, 0, 0, 0, 0]), Buffer.alloc(8), Buffer.from('16' + pan.slice(0, 6), 'latin1')]);
  return { raw: frame(body), mti: '0100', stan: '-', pan };
}

/** `scenarios` names checked against the list; unknown names are an error sentence. */
export function selectScenarios(names: readonly string[] | null): Scenario[] | string {
  if (names === null) return [...SCENARIOS];
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length > 0) return `unknown scenario "${unknown[0]}" (known: ${SCENARIOS.map((s) => s.name).join(', ')})`;
  return SCENARIOS.filter((s) => names.includes(s.name));
}

export { TOP_UP };

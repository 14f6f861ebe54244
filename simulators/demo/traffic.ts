// The demo's live workload: a seeded mix of every kind of message a processor sends, open loop on
// a timer (message i is due at start + i / rate, whether or not earlier ones were answered; the
// timer sends whatever is due and sleeps, it never spins). Answers are matched by response MTI and
// STAN on their link; approvals feed the list of originals that reversals, clearings, increments,
// completions and repeats name, and field 54 tells the funding keeper when a card runs low.
//
// The messages carry the card data a processor's would (cardauth/card-data.ts plays the card and
// the acquirer): e-commerce payments the card's CVV2, card-present payments a chip read (ARQC,
// iCVV) or a swipe (track 2), ATM withdrawals a PIN block under the acquirer's ZPK; and, at a low
// weight, the attacks the switch must refuse. A card's chip reads go one at a time (ATCs must reach
// the switch in order, as a real card's do), and the attack card takes one message at a time and
// follows each attack with the right datum, so that no failure count ever reaches a lock.
import { performance } from 'node:perf_hooks';
import { IsoCodec, type IsoFields } from '../../iso/codec.js';
import { DIALECT_1987 } from '../../iso/dialect.js';
import { responseCode, type Reason } from '../../iso/reasons.js';
import { IsoLink } from '../../iso/link.js';
import { CardDataBuilder, cardFieldsForCodec, type CardFields } from '../../cardauth/card-data.js';
import {
  decodeAdditionalAmounts, merchantNameLocation, originalDataElements, reasonsFor, replacementAmounts, requestFields, transmissionTime, withPartialApproval,
  type Acceptor,
} from '../lib/fields.js';
import { seededRandom } from '../scheme/mix.js';
import { StanCounter, respMti } from '../scheme/model.js';
import { BLOCKED_MCC, cardRef, LIMIT_PER_TRANSACTION_MINOR, type DemoCard, type Fleet, type FundingKeeper } from './fleet.js';
import type { DemoStats } from './stats.js';

const ACCEPTOR: Acceptor = { acquirer: '654321', terminal: 'DEMO0001', merchantId: 'ANTACADEMOSHOP1', nameLocation: merchantNameLocation('ANTACA DEMO SHOP', 'WARSAW', 'POL') };

/** Kinds of the mix, their weights, and the reason each expects (to name a code several reasons share). */
export const MIX: ReadonlyArray<readonly [kind: string, weight: number, expect: Reason]> = [
  ['e-commerce purchase', 14, 'APPROVED'], ['card-present purchase', 12, 'APPROVED'], ['ATM withdrawal', 6, 'APPROVED'], ['cashback', 4, 'APPROVED'],
  ['refund', 4, 'APPROVED'], ['balance inquiry', 4, 'APPROVED'], ['account verification', 3, 'ACCOUNT_VERIFIED'],
  ['hotel pre-authorization', 2, 'APPROVED'], ['incremental authorization', 2, 'APPROVED'], ['fuel pre-authorization', 2, 'APPROVED'],
  ['completion advice', 2, 'APPROVED'], ['partial approval', 2, 'PARTIAL_APPROVAL'],
  ['reversal', 5, 'APPROVED'], ['partial reversal', 4, 'APPROVED'], ['reversal advice', 2, 'APPROVED'],
  ['clearing less', 3, 'APPROVED'], ['clearing same', 3, 'APPROVED'], ['clearing more', 2, 'APPROVED'], ['advice', 2, 'APPROVED'],
  ['repeat', 3, 'APPROVED'], ['echo', 2, 'APPROVED'],
  ['insufficient funds', 3, 'INSUFFICIENT_FUNDS'], ['locked card', 2, 'CARD_LOCK_7_SUSPECTED_FRAUD'], ['unknown card', 2, 'CARD_NOT_FOUND'],
  ['expired card', 2, 'EXPIRED_CARD'], ['AML lock', 2, 'AML_EXCEPTION'], ['over limit', 2, 'EXCEEDS_AMOUNT_LIMIT'],
  ['blocked merchant category', 2, 'TRANSACTION_NOT_PERMITTED'], ['invalid amount', 2, 'INVALID_AMOUNT'], ['unknown processing code', 2, 'UNKNOWN_TRANSACTION_TYPE'],
  ['wrong CVV2', 1, 'SECURITY_VIOLATION'], ['replayed ATC', 1, 'SECURITY_VIOLATION'], ['wrong PIN', 1, 'INCORRECT_PIN'],
];

/** A kind's name on the command line (--kinds): "wrong CVV2" → "wrong-cvv2". */
export function kindSlug(kind: string): string {
  return kind.toLowerCase().replace(/[^a-z0-9]+/g, '-');
}

/** How long a request waits for its answer before it counts as unanswered. */
const ANSWER_WAIT_MS = 10_000;
/** Originals remembered for reversals and clearings; the oldest are forgotten past it. */
const ORIGINALS_MAX = 2_000;
/** Answered requests remembered for repeats. */
const RECENT_MAX = 64;
/** Period of the send timer. */
const TICK_MS = 5;
/** The highest ATC (9F36, two bytes): a card that reached it is swiped from then on. */
const ATC_MAX = 65_535;
/** What a fuel pump pre-authorizes before the pumping: 100.00 EUR. */
const FUEL_PRE_AUTH_MINOR = 10_000;

interface Sent {
  mti: string;
  fields: IsoFields;
  card: DemoCard | null;
  amountMinor: number;
  expect?: Reason;
  /** The kind it is counted as when it is not the kind drawn (a fallback, the right datum after an attack). */
  kind?: string;
  /** The card data it carries, counted for the screen: CVV2, track 2, ARQC, PIN block. */
  data?: readonly string[];
  /** Not an original that a reversal, clearing, increment or completion may name (an increment names one itself). */
  final?: boolean;
  /** Called once with the answer's field 39 and fields, or with nulls when none came in time. */
  settle?: (code: string | null, fields: IsoFields | null) => void;
}
interface Pending { sent: Sent; kind: string; expect: Reason; atMs: number }

export interface TrafficOptions {
  /** Card data builder on the switch's card keys; null: e-commerce CVV2s only (from the card data API), no tracks, ARQCs or PIN blocks. */
  cardData: CardDataBuilder | null;
  /** The kinds of MIX to draw from (slugs); null: all. */
  kinds: readonly string[] | null;
}

export class Traffic {
  readonly codec = new IsoCodec(DIALECT_1987);
  private readonly rnd: () => number;
  private readonly stans: StanCounter;
  private readonly waiting: Array<Map<string, Pending[]>>;
  private readonly holds: Sent[] = [];
  private readonly posted: Sent[] = [];
  private readonly recent: Sent[] = [];
  private readonly funded: DemoCard[];
  private readonly physical: DemoCard[];
  private readonly byRole: Map<string, DemoCard>;
  private readonly mix: ReadonlyArray<readonly [string, number, Reason]>;
  private readonly weightTotal: number;
  /** Plays the cards: the key set's builder, or one without keys (e-commerce with a CVV2 the API gave needs none). */
  private readonly play: CardDataBuilder;
  private timer: NodeJS.Timeout | null = null;
  private sweeper: NodeJS.Timeout | null = null;
  private scheduled = 0;
  private startMs = 0;
  private closing = false;
  /** Called once when a link closes while the demo still runs. */
  onGone: (why: string) => void = () => undefined;

  constructor(private readonly links: IsoLink[], fleet: Fleet, private readonly keeper: FundingKeeper, private readonly stats: DemoStats, seed: number, private readonly ratePerSecond: number, private readonly o: TrafficOptions = { cardData: null, kinds: null }) {
    this.rnd = seededRandom(seed);
    this.stans = new StanCounter(1 + Math.floor(this.rnd() * 800_000), String(100_000 + Math.floor(this.rnd() * 899_999)));
    this.waiting = links.map(() => new Map());
    this.funded = fleet.cards.filter((c) => c.role === 'funded');
    this.physical = this.funded.filter((c) => c.physical && c.pin !== null);
    this.byRole = new Map(fleet.cards.filter((c) => c.role !== 'funded').map((c) => [c.role, c]));
    this.mix = o.kinds === null ? MIX : MIX.filter(([k]) => (o.kinds as readonly string[]).includes(kindSlug(k)));
    this.weightTotal = this.mix.reduce((s, [, w]) => s + w, 0);
    this.play = o.cardData ?? new CardDataBuilder({});
    links.forEach((link, i) => {
      link.onFrame = (body) => this.onAnswer(i, body);
      link.onClose = (e) => { if (e !== null && !this.closing) { this.closing = true; this.onGone(e.message); } };
    });
  }

  get inFlight(): number {
    let n = 0;
    for (const w of this.waiting) for (const list of w.values()) n += list.length;
    return n;
  }

  start(): void {
    this.startMs = performance.now();
    this.timer = setInterval(() => this.sendDue(), TICK_MS);
    this.sweeper = setInterval(() => this.sweep(), 1_000);
  }

  /** Stops sending; resolves when every request in flight is answered or `boundMs` has passed. */
  async stop(boundMs: number): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const until = Date.now() + boundMs;
    while (this.inFlight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.stats.unanswered += this.inFlight;
    if (this.sweeper) clearInterval(this.sweeper);
    this.closing = true;
    for (const l of this.links) l.close();
  }

  private sendDue(): void {
    const due = Math.floor(((performance.now() - this.startMs) * this.ratePerSecond) / 1000) + 1;
    // A timer that fell far behind (a stalled event loop) does not fire a burst of a second's worth.
    if (due - this.scheduled > this.ratePerSecond) this.scheduled = due - this.ratePerSecond;
    while (this.scheduled < due) { this.scheduled++; this.sendOne(); }
  }

  private pick<T>(list: readonly T[]): T { return list[Math.floor(this.rnd() * list.length)] as T; }
  private amount(lo: number, hi: number): number { return lo + Math.floor(this.rnd() * (hi - lo)); }

  private sendOne(): void {
    let roll = this.rnd() * this.weightTotal;
    let entry = this.mix[0] as (typeof MIX)[number];
    for (const m of this.mix) { if (roll < m[1]) { entry = m; break; } roll -= m[1]; }
    const [kind, , expect] = entry;
    const built = this.build(kind);
    if (built === null) { this.send('e-commerce purchase', 'APPROVED', this.ecommerce(this.pick(this.funded), '0100', '00', this.amount(100, 4_000))); return; }
    this.send(built.kind ?? kind, built.expect ?? expect, built);
  }

  /** The request of one kind; null when it cannot be sent now (no open original, its card busy): an e-commerce purchase goes instead. */
  private build(kind: string): Sent | null {
    const card = this.pick(this.funded);
    const role = (r: string): DemoCard => this.byRole.get(r) as DemoCard;
    switch (kind) {
      case 'e-commerce purchase': return this.ecommerce(card, this.rnd() < 0.75 ? '0100' : '0200', '00', this.amount(100, 4_000));
      case 'card-present purchase': return this.cardPresent(this.rnd() < 0.6 ? '0100' : '0200', '00', this.amount(100, 4_000));
      case 'ATM withdrawal': return this.atm();
      case 'cashback': return this.cardPresent('0200', '09', this.amount(500, 3_000));
      case 'refund': return this.request(card, this.rnd() < 0.5 ? '0200' : '0100', '20', this.amount(100, 2_000));
      case 'balance inquiry': return this.request(card, '0100', '30', null);
      case 'account verification': return this.ecommerce(card, '0100', '00', 0);
      case 'hotel pre-authorization': return this.hotel(card);
      case 'incremental authorization': return this.increment();
      case 'fuel pre-authorization': return this.fuel();
      case 'completion advice': return this.completion();
      case 'partial approval': return this.partial();
      case 'advice': return this.request(card, '0120', '00', this.amount(100, 2_000));
      case 'reversal': case 'partial reversal': case 'reversal advice': return this.reversal(kind);
      case 'clearing less': case 'clearing same': case 'clearing more': return this.clearing(kind);
      case 'repeat': return this.repeat();
      case 'echo': return { mti: '0800', fields: new Map<number, string | Buffer>([[7, transmissionTime(new Date())], [11, this.stans.next()], [70, '301']]), card: null, amountMinor: 0 };
      case 'insufficient funds': return this.ecommerce(role('poor'), '0100', '00', this.amount(2_000, 9_000));
      case 'locked card': return this.ecommerce(role('locked'), '0100', '00', this.amount(100, 4_000));
      case 'unknown card': return this.request({ ...card, pan: card.pan.slice(0, 6) + String(this.amount(1e8, 1e9 - 1)).padStart(9, '0') + '0' }, '0100', '00', this.amount(100, 4_000), true);
      case 'expired card': return this.carry(this.request(card, '0100', '00', this.amount(100, 4_000)), { 14: '2001' });
      case 'AML lock': return this.ecommerce(role('aml'), '0100', '00', this.amount(100, 4_000));
      case 'over limit': return this.ecommerce(role('limited'), '0100', '00', LIMIT_PER_TRANSACTION_MINOR + this.amount(100, 5_000));
      case 'blocked merchant category': return this.carry(this.ecommerce(role('controlled'), '0100', '00', this.amount(100, 4_000)), { 18: BLOCKED_MCC });
      case 'invalid amount': return this.request(card, '0200', '00', 0);
      case 'unknown processing code': return this.request(card, '0100', '40', this.amount(100, 4_000));
      case 'wrong CVV2': case 'replayed ATC': case 'wrong PIN': return this.attack(kind);
      default: return null;
    }
  }

  private request(card: DemoCard, mti: string, proc: string, amountMinor: number | null, ghost = false): Sent {
    const stan = this.stans.next();
    return { mti, fields: requestFields(card.pan, proc, amountMinor, stan, this.stans.rrn(stan), ACCEPTOR), card: ghost ? null : card, amountMinor: amountMinor ?? 0 };
  }

  /** `s` with card data (field 52 as 8 bytes; '' removes a field), counted as `data`. */
  private carry(s: Sent, f: CardFields, data: readonly string[] = []): Sent {
    const fields = new Map(s.fields);
    for (const [n, v] of cardFieldsForCodec(f)) { if (v === '') fields.delete(n); else fields.set(n, v); }
    return { ...s, fields: new Map([...fields].sort((a, b) => a[0] - b[0])), data: [...(s.data ?? []), ...data] };
  }

  /** Whether the demo can play this card's stripe and chip (it has its program's keys). */
  private canPlay(card: DemoCard): boolean {
    return this.o.cardData !== null && this.o.cardData.has(card.configId);
  }

  /** E-commerce (entry 81): field 14 and the card's CVV2 as the card data API gave it (or `cvv2`); 48.61 when the terminal accepts a partial approval. */
  private ecommerce(card: DemoCard, mti: string, proc: string, amountMinor: number, o: { cvv2?: string; partial?: boolean } = {}): Sent {
    const s = this.request(card, mti, proc, amountMinor);
    const cvv2 = o.cvv2 ?? card.cvv2;
    if (cvv2 === undefined) return s;
    const f = this.play.ecommerce(cardRef(card), { cvv2 });
    if (o.partial === true) f[48] = withPartialApproval(f[48]);
    return this.carry(s, f, ['CVV2']);
  }

  /**
   * A physical card at a terminal: a chip read (ARQC and iCVV, the card's next ATC) when none of the
   * card's is in flight, else a swipe (track 2); a PIN block under the acquirer's ZPK with `pin`.
   * Without the card keys: the fields of a chip terminal without its data (the demo program requires none).
   */
  private present(card: DemoCard, mti: string, proc: string, amountMinor: number, o: { pin?: string; swipe?: boolean } = {}): Sent {
    const s = this.request(card, mti, proc, amountMinor);
    if (!this.canPlay(card)) return s;
    const ref = cardRef(card);
    const withPin = o.pin === undefined ? {} : { pin: o.pin };
    const pinTag = o.pin === undefined ? [] : ['PIN block'];
    if (card.chipInFlight || card.nextAtc > ATC_MAX || o.swipe === true) {
      return this.carry(s, { ...this.play.swipe(ref, { acquirer: ACCEPTOR.acquirer, ...withPin }), 14: card.expiry }, ['track 2', ...pinTag]);
    }
    const atc = card.nextAtc++;
    card.chipInFlight = true;
    const f = this.play.chipRead(ref, { atc, amountMinor, currencyN3: '978', type: proc }, { acquirer: ACCEPTOR.acquirer, ...withPin });
    const sent = this.carry(s, f, ['ARQC', ...pinTag]);
    const { 52: _pinBlock, ...chip } = f;
    sent.settle = (code) => {
      card.chipInFlight = false;
      if (code !== null && code !== responseCode('FORMAT_ERROR', '1987')) card.lastChip = { fields: chip, amountMinor };
    };
    return sent;
  }

  /** A card-present purchase (or cashback) on a physical card; an e-commerce one where the demo has none. */
  private cardPresent(mti: string, proc: string, amountMinor: number): Sent {
    if (this.physical.length === 0) return { ...this.ecommerce(this.pick(this.funded), mti, proc, amountMinor), kind: 'e-commerce purchase' };
    return this.present(this.pick(this.physical), mti, proc, amountMinor);
  }

  /** An ATM withdrawal (01) with the card and its PIN; without physical cards, the plain message of a chip terminal. */
  private atm(): Sent {
    const mti = this.rnd() < 0.5 ? '0200' : '0100';
    const amountMinor = 1_000 * this.amount(2, 11);
    if (this.physical.length === 0) return this.request(this.pick(this.funded), mti, '01', amountMinor);
    const card = this.pick(this.physical);
    return this.present(card, mti, '01', amountMinor, { pin: card.pin as string });
  }

  /** A hotel's pre-authorization at check-in: e-commerce, MCC 7011, 100.00-300.00 EUR. */
  private hotel(card: DemoCard): Sent {
    return { ...this.carry(this.ecommerce(card, '0100', '00', this.amount(10_000, 30_000)), { 18: '7011' }), kind: 'hotel pre-authorization', expect: 'APPROVED' };
  }

  /** A fuel pump's pre-authorization of 100.00 EUR: card present, MCC 5542. */
  private fuel(): Sent {
    const s = this.physical.length === 0 ? this.ecommerce(this.pick(this.funded), '0100', '00', FUEL_PRE_AUTH_MINOR) : this.present(this.pick(this.physical), '0100', '00', FUEL_PRE_AUTH_MINOR);
    return { ...this.carry(s, { 18: '5542' }), kind: 'fuel pre-authorization', expect: 'APPROVED' };
  }

  /** An open 0100 purchase hold of MCC `mcc`, taken out of the list while a message names it (put back when it is settled). */
  private takeHold(mcc: string): Sent | undefined {
    const i = this.holds.findIndex((h) => h.mti === '0100' && h.fields.get(18) === mcc && String(h.fields.get(3)).startsWith('00'));
    return i < 0 ? undefined : this.holds.splice(i, 1)[0];
  }

  /**
   * An incremental authorization: an 0100 naming an open hotel pre-authorization by field 90 (a
   * stay extended; merchant-initiated, a stored credential), 20.00-80.00 EUR added to its hold.
   */
  private increment(): Sent {
    const o = this.takeHold('7011');
    if (o === undefined) return this.hotel(this.pick(this.funded));
    const inc = this.amount(2_000, 8_000);
    const s = this.carry(this.request(o.card as DemoCard, '0100', '00', inc), { ...this.play.ecommerce(cardRef(o.card as DemoCard), { credentialOnFile: true }), 18: '7011', 90: this.originalRef(o) }, ['stored credential']);
    s.final = true;
    s.settle = (code) => { if (code === '00') o.amountMinor += inc; this.holds.push(o); };
    return s;
  }

  /** A completion advice: an 0120 naming an open fuel pre-authorization, for what was pumped (20.00-99.99 EUR): its hold becomes that. */
  private completion(): Sent {
    const o = this.takeHold('5542');
    if (o === undefined) return this.fuel();
    const amountMinor = this.amount(2_000, FUEL_PRE_AUTH_MINOR);
    const s = this.carry(this.request(o.card as DemoCard, '0120', '00', amountMinor), { 18: '5542', 90: this.originalRef(o) });
    s.settle = (code) => { if (code === '00') o.amountMinor = amountMinor; this.holds.push(o); };
    return s;
  }

  /** A purchase above what the partial-approval card holds, at a terminal that accepts a partial approval (48.61): 10 for what it has. */
  private partial(): Sent | null {
    const card = this.byRole.get('partial');
    if (card === undefined || card.busy || card.topUpInFlight) return null;
    if ((card.availableMinor ?? 0) <= 0) { this.keeper.topUp(card); return null; }
    return this.oneAtATime(card, this.ecommerce(card, '0100', '00', (card.availableMinor ?? 0) + this.amount(1_000, 5_000), { partial: true }));
  }

  /**
   * An attack on the attack card (a wrong CVV2, a cryptogram replayed with an ATC the card used,
   * a wrong PIN), or, when the last attack has not yet been followed by the right datum, the right
   * datum (so that the card's failure counts stay below their locks). Null while its last message is in flight.
   */
  private attack(kind: string): Sent | null {
    const card = this.byRole.get('attack');
    if (card === undefined || card.busy) return null;
    const amountMinor = this.amount(100, 4_000);
    if (card.owed === 'cvv2') return this.oneAtATime(card, { ...this.ecommerce(card, '0100', '00', amountMinor), kind: 'e-commerce purchase', expect: 'APPROVED' });
    if (card.owed === 'pin') return this.oneAtATime(card, { ...this.present(card, '0200', '01', 2_000, { pin: card.pin as string, swipe: true }), kind: 'ATM withdrawal', expect: 'APPROVED' });
    if (kind === 'wrong CVV2' && card.cvv2 !== undefined) {
      card.owed = 'cvv2';
      return this.oneAtATime(card, this.ecommerce(card, '0100', '00', amountMinor, { cvv2: String((Number(card.cvv2) + 1) % 1000).padStart(3, '0') }));
    }
    if (!this.canPlay(card) || card.pin === null) return null;
    if (kind === 'wrong PIN') {
      card.owed = 'pin';
      return this.oneAtATime(card, this.present(card, '0200', '01', 2_000, { pin: wrongPin(card.pin), swipe: true }));
    }
    const last = card.lastChip;
    if (last === null) return this.oneAtATime(card, { ...this.present(card, '0100', '00', amountMinor), kind: 'card-present purchase', expect: 'APPROVED' });
    return this.oneAtATime(card, this.carry(this.request(card, '0100', '00', last.amountMinor), last.fields, ['ARQC']));
  }

  /** `s` on a card that takes one message at a time: busy until it is settled; the right datum after an attack clears what is owed. */
  private oneAtATime(card: DemoCard, s: Sent): Sent {
    card.busy = true;
    const inner = s.settle;
    const rightDatum = s.expect === 'APPROVED' && card.owed !== null;
    return {
      ...s,
      settle: (code, fields) => {
        inner?.(code, fields);
        card.busy = false;
        if (rightDatum && code === '00') card.owed = null;
      },
    };
  }

  /** Field 90 naming the original `o`. */
  private originalRef(o: Sent): string {
    return originalDataElements({ mti: o.mti, stan: String(o.fields.get(11)), f7: String(o.fields.get(7)), acquirer: ACCEPTOR.acquirer });
  }

  /** An 0400 / 0420 of an approved hold or debit, full or partial (field 95). */
  private reversal(kind: string): Sent | null {
    const fromHolds = this.holds.length > 0 && (this.posted.length === 0 || this.rnd() < 0.5);
    const list = fromHolds ? this.holds : this.posted;
    if (list.length === 0) return null;
    const o = list.splice(Math.floor(this.rnd() * list.length), 1)[0] as Sent;
    const r = this.followUp(o, kind === 'reversal advice' ? '0420' : '0400', o.amountMinor);
    if (kind === 'partial reversal' && o.amountMinor >= 2) r.fields.set(95, replacementAmounts(this.amount(1, o.amountMinor)));
    return sortFields(r);
  }

  /** An 0220 clearing an approved 0100 hold for less, the same or more. */
  private clearing(kind: string): Sent | null {
    if (this.holds.length === 0) return null;
    const o = this.holds.splice(Math.floor(this.rnd() * this.holds.length), 1)[0] as Sent;
    const amount = kind === 'clearing less' ? this.amount(1, o.amountMinor + 1) : kind === 'clearing same' ? o.amountMinor : o.amountMinor + this.amount(1, 1_000);
    return this.followUp(o, '0220', amount);
  }

  private followUp(o: Sent, mti: string, amountMinor: number): Sent {
    const r = this.request(o.card as DemoCard, mti, String(o.fields.get(3)).slice(0, 2), amountMinor);
    r.fields.set(37, String(o.fields.get(37)));
    r.fields.set(90, this.originalRef(o));
    return sortFields(r);
  }

  /** An 0101 / 0201 carrying an answered request's fields: the switch answers the first answer again. */
  private repeat(): Sent | null {
    if (this.recent.length === 0) return null;
    const o = this.pick(this.recent);
    return { mti: o.mti === '0100' ? '0101' : '0201', fields: o.fields, card: o.card, amountMinor: o.amountMinor, final: true, ...(o.expect === undefined ? {} : { expect: o.expect }) };
  }

  private send(kind: string, expect: Reason, s: Sent): void {
    const linkNo = this.scheduled % this.links.length;
    const key = `${respMti(s.mti)}:${String(s.fields.get(11))}`;
    const waiting = this.waiting[linkNo] as Map<string, Pending[]>;
    const list = waiting.get(key) ?? [];
    list.push({ sent: s, kind, expect, atMs: performance.now() });
    waiting.set(key, list);
    this.stats.sentOne(kind, kind === 'repeat' ? [] : s.data ?? []);
    (this.links[linkNo] as IsoLink).send(this.codec.pack({ mti: s.mti, fields: s.fields }));
  }

  private onAnswer(linkNo: number, body: Buffer): void {
    const r = this.codec.unpack(body);
    const mti = r.ok ? r.msg.mti : r.partial.mti;
    const fields = r.ok ? r.msg.fields : r.partial.fields;
    const key = `${mti}:${String(fields.get(11))}`;
    const waiting = this.waiting[linkNo] as Map<string, Pending[]>;
    const list = waiting.get(key);
    const p = list?.shift();
    if (p === undefined) { this.stats.unmatched++; return; }
    if (list?.length === 0) waiting.delete(key);
    const code = String(fields.get(39) ?? '');
    this.stats.answer(code, nameOf(code, p.expect), performance.now() - p.atMs);
    p.sent.settle?.(code, fields);
    this.learn(p, code, fields);
  }

  /** What an answer teaches: an original to reverse or clear, a request to repeat, a card's balance. */
  private learn(p: Pending, code: string, fields: IsoFields): void {
    const s = p.sent;
    if (s.card === null || p.kind === 'repeat') return;
    const proc = String(s.fields.get(3)).slice(0, 2);
    const debit = proc === '00' || proc === '01' || proc === '09';
    const approved = code === '00' || code === responseCode('PARTIAL_APPROVAL', '1987');
    if (approved && debit && s.amountMinor > 0 && (s.mti === '0100' || s.mti === '0200') && s.final !== true) {
      const list = s.mti === '0100' ? this.holds : this.posted;
      // A partial approval holds or posts field 4 of its answer: that is what a follow-up names.
      list.push(code === '00' ? s : { ...s, amountMinor: Number(fields.get(4) ?? 0) });
      if (list.length > ORIGINALS_MAX) list.shift();
    }
    if (s.mti === '0100' || s.mti === '0200') {
      this.recent.push({ mti: s.mti, fields: s.fields, card: s.card, amountMinor: s.amountMinor, expect: p.expect });
      if (this.recent.length > RECENT_MAX) this.recent.shift();
    }
    const f54 = fields.get(54);
    const available = typeof f54 === 'string' ? decodeAdditionalAmounts(f54)?.find((e) => e.amountType === 'available')?.minor : undefined;
    if (available !== undefined) this.keeper.observe(s.card, Number(available));
    else if (code === responseCode('INSUFFICIENT_FUNDS', '1987') && p.kind !== 'insufficient funds') this.keeper.insufficient(s.card);
  }

  /** Requests waiting longer than ANSWER_WAIT_MS count as unanswered and are forgotten. */
  private sweep(): void {
    const oldest = performance.now() - ANSWER_WAIT_MS;
    for (const w of this.waiting) {
      for (const [key, list] of w) {
        const kept = list.filter((p) => p.atMs >= oldest);
        for (const p of list) if (p.atMs < oldest) p.sent.settle?.(null, null);
        this.stats.unanswered += list.length - kept.length;
        if (kept.length === 0) w.delete(key); else w.set(key, kept);
      }
    }
  }
}

function sortFields(s: Sent): Sent {
  return { ...s, fields: new Map([...s.fields].sort((a, b) => a[0] - b[0])) };
}

/** A PIN that is not `pin`: its last digit moved on by one. */
function wrongPin(pin: string): string {
  return pin.slice(0, -1) + String((Number(pin.slice(-1)) + 1) % 10);
}

/**
 * The reason's name for field 39: the one the request expected when the code is its code, else
 * every reason with that code (locks apart, which only the locked card can give), joined by " | ".
 */
export function nameOf(code: string, expect: Reason): string {
  if (responseCode(expect, '1987') === code) return expect;
  const all = reasonsFor(code, '1987');
  const named = all.length > 1 ? all.filter((r) => !r.startsWith('CARD_LOCK_')) : all;
  return (named.length > 0 ? named : all).join(' | ') || 'no reason of the switch has this code';
}
